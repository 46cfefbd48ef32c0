import { Problem } from '../lib/problem'
import { loadPartnerById } from '../partners/lookup'
import { snapshotOf } from '../providers/qi/mapping'
import { parseQiWebhook } from '../providers/qi/webhook'
import type { WebhookRequest } from '../providers/provider'
import { applySnapshot, reconcileTransfer } from './operations'
import type { TransferStatus } from '../rules/transfer-states'
import { claimRefetch, findQiTransfer } from './store'
import type { Services } from '../services'

/**
 * A QI status webhook. It is trusted only once its signature verifies with the partner's QI public
 * key. Anything that cannot be verified (unknown TED, bad signature) gets the same 401, so the route
 * tells a stranger nothing about which TEDs exist; for a TED we know, QI is asked directly instead,
 * at most once per REFETCH_GAP_MS so forged webhooks cannot make the gateway hammer QI. The state
 * machine makes duplicates and out-of-order deliveries harmless.
 */
const REFETCH_GAP_MS = 30_000

const unverified = () =>
  new Problem('webhook_signature_invalid', {
    detail: 'The webhook could not be verified; if it names a known TED, the TED is re-fetched from QI instead.',
  })

export const receiveQiWebhook = async (services: Services, request: WebhookRequest) => {
  const hook = parseQiWebhook(request.body)
  if (!hook) throw new Problem('malformed_json', { detail: 'Expected a QI webhook: {webhook_type, data: {ted_key, …}}.' })
  const transfer = await findQiTransfer(services.db, hook.ted.ted_key, hook.ted.request_control_key)
  if (!transfer) throw unverified()
  const partner = await loadPartnerById(services.db, transfer.partnerId, services.settings)
  if (!partner) throw unverified()
  // No usable QI connection (removed, undecryptable) answers like an unknown TED: nothing to probe.
  const provider = await services.providerFor(partner, 'qi').catch(() => null)
  if (!provider) throw unverified()
  const verified = provider.verifyWebhook ? await provider.verifyWebhook(request) : { ok: false as const, reason: 'no webhook verification' }
  if (!verified.ok) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'QI webhook refused', reason: verified.reason, transfer: transfer.id }))
    if (await claimRefetch(services.db, transfer.id, services.now(), REFETCH_GAP_MS)) services.defer(reconcileTransfer(services, partner, transfer))
    throw unverified()
  }
  if (hook.type !== 'baas.ted.outgoing_ted') return { applied: false, transfer }
  const updated = await applySnapshot(services, transfer, snapshotOf(hook.ted, transfer.status as TransferStatus))
  return { applied: updated.status !== transfer.status, transfer: updated }
}
