import type { Transfer } from '../../db/schema'
import { problemFor, providerErrorOf } from '../providers/problems'
import type { PartnerContext, Services } from '../services'
import { applySnapshot, endOnGatewaySide, learnHowItEnded } from './apply'
import { inFlight, notPending, transferNotFound } from './problems'
import { findTransfer } from './store/read'

export const cancelTransfer = async (
  services: Services,
  partner: PartnerContext,
  transferId: string,
): Promise<Transfer> => {
  const transfer = await findTransfer(services.db, partner, transferId)
  if (!transfer) throw transferNotFound(transferId)
  if (transfer.status === 'canceled') return transfer
  if (transfer.status !== 'pending_verification') throw notPending(transfer, services.now())

  const provider = await services.providerFor(partner, transfer.provider)
  if (!provider.cancel) {
    // No provider-side cancel (QI): the gateway refuses every later confirm and never forwards it.
    const ended = await endOnGatewaySide(services, provider, transfer, 'canceled')
    if (!ended.ok) throw problemFor(ended.error)
    const canceled = ended.value
    if (canceled.status === 'pending_verification') {
      throw inFlight('A confirm of this transfer is being processed; retry the cancel shortly.')
    }
    if (canceled.status !== 'canceled') throw notPending(canceled, services.now())
    return canceled
  }
  const result = await provider.cancel(transfer)
  if (result.ok) {
    const canceled = await applySnapshot(services, transfer, result.value)
    if (canceled.status !== 'canceled') throw notPending(canceled, services.now())
    return canceled
  }
  if (result.error.kind === 'not_pending') {
    // Already settled at the provider: learn how, then answer from that.
    const current = await learnHowItEnded(services, partner, transfer)
    if (current.status === 'canceled') return current
    throw notPending(current, services.now(), { provider_error: providerErrorOf(result.error) })
  }
  throw problemFor(result.error)
}
