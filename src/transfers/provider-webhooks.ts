import { log } from '../lib/log'
import { Problem } from '../lib/problem'
import { loadPartnerById } from '../partners/lookup'
import type { ProviderName, WebhookRequest } from '../providers/provider'
import { PROVIDER_MODULES } from '../providers/registry'
import type { TransferStatus } from '../rules/transfer-states'
import type { Services } from '../services'
import { applySnapshot, reconcileTransfer } from './apply'
import { claimRefetch, findTransferForWebhook } from './store/read'

// Forged webhooks naming a known transfer make the gateway ask the provider itself, at most this often.
const REFETCH_GAP_MS = 30_000

const unverified = () =>
  new Problem('webhook_signature_invalid', {
    detail:
      'The webhook could not be verified; if it names a known transfer, the transfer is re-fetched from the provider instead.',
  })

/**
 * A provider's status webhook. It is trusted only once the partner's adapter verifies it (QI: the
 * signature with the partner's QI public key). Anything that cannot be verified (unknown transfer,
 * bad signature) gets the same 401, so the route tells a stranger nothing about which transfers
 * exist; for a transfer we know, the provider is asked directly instead, at most once per
 * REFETCH_GAP_MS. The state machine makes duplicates and out-of-order deliveries harmless.
 */
export const receiveProviderWebhook = async (services: Services, name: ProviderName, request: WebhookRequest) => {
  const module = PROVIDER_MODULES[name]
  const notice = module.readWebhook?.(request.body)
  if (!notice)
    throw new Problem('malformed_json', {
      detail: `The body is not a webhook the ${name} adapter can read.`,
    })
  const transfer = await findTransferForWebhook(services.db, name, notice.lookup)
  if (!transfer) throw unverified()
  const partner = await loadPartnerById(services.db, transfer.partnerId, transfer.mode, services.settings)
  if (!partner) throw unverified()
  // No usable connection (removed, undecryptable) answers like an unknown transfer: nothing to probe.
  const provider = await services.providerFor(partner, name).catch(() => null)
  if (!provider) throw unverified()
  const verified = provider.verifyWebhook
    ? await provider.verifyWebhook(request)
    : { ok: false as const, reason: 'no webhook verification' }
  if (!verified.ok) {
    log.warn('provider webhook refused', { provider: name, reason: verified.reason, transfer: transfer.id })
    if (await claimRefetch(services.db, transfer.id, services.now(), REFETCH_GAP_MS))
      services.defer(reconcileTransfer(services, partner, transfer))
    throw unverified()
  }
  if (!notice.snapshot) return { applied: false, transfer }
  const updated = await applySnapshot(services, transfer, notice.snapshot(transfer.status as TransferStatus))
  return { applied: updated.status !== transfer.status, transfer: updated }
}
