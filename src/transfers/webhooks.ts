import { Problem } from '../http/problem'
import { loadPartnerById } from '../partners/lookup'
import { snapshotOf } from '../providers/qi/mapping'
import { parseQiWebhook } from '../providers/qi/webhook'
import type { WebhookRequest } from '../providers/provider'
import { applySnapshot, reconcileTransfer, type OperationDeps } from './operations'
import type { TransferStatus } from './status'
import { findQiTransfer } from './store'

/**
 * A QI status webhook. It is trusted only once its signature verifies with the partner's QI public
 * key; otherwise it is refused, and if it names a TED we know, QI is asked directly instead. The
 * state machine makes duplicates and out-of-order deliveries harmless.
 */
export const receiveQiWebhook = async (deps: OperationDeps, request: WebhookRequest) => {
  const hook = parseQiWebhook(request.body)
  if (!hook) throw new Problem('malformed_json', { detail: 'Expected a QI webhook: {webhook_type, data: {ted_key, …}}.' })
  const transfer = await findQiTransfer(deps.db, hook.ted.ted_key, hook.ted.request_control_key)
  if (!transfer) throw new Problem('transfer_not_found', { detail: 'No transfer matches this TED.' })
  const partner = await loadPartnerById(deps.db, transfer.partnerId, deps.settings)
  if (!partner) throw new Problem('transfer_not_found', { detail: 'No transfer matches this TED.' })
  const provider = await deps.providerFor(partner, 'qi')
  const verified = await provider.verifyWebhook!(request)
  if (!verified.ok) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'QI webhook refused', reason: verified.reason, transfer: transfer.id }))
    deps.defer(reconcileTransfer(deps, partner, transfer))
    throw new Problem('webhook_signature_invalid', {
      detail: 'The webhook signature did not verify; the TED will be re-fetched from QI instead.',
    })
  }
  if (hook.type !== 'baas.ted.outgoing_ted') return { applied: false, transfer }
  const updated = await applySnapshot(deps, transfer, snapshotOf(hook.ted, transfer.status as TransferStatus))
  return { applied: updated.status !== transfer.status, transfer: updated }
}
