import type { NewTransfer, Transfer } from '../../db/schema'
import { Problem } from '../lib/problem'
import type { ProviderSnapshot, Result, TransferProvider } from '../providers/provider'
import { providerFacts } from '../providers/registry'
import { canTransition, type TransferStatus } from '../rules/transfer-states'
import type { PartnerContext, Services } from '../services'
import { findTransfer } from './store/read'
import { transition } from './store/transition'

// How the provider's view of a transfer becomes ours: from an answer, a webhook or the reconciler.

/**
 * What a transfer starts its verification with, however the gateway learns a code was sent: the
 * create's answer, or later a webhook or the reconciler (the answer was lost). The pending window
 * counts from the create.
 */
const verificationStart = (
  services: Services,
  transfer: Transfer,
  snapshot: ProviderSnapshot,
): Partial<NewTransfer> => {
  const facts = providerFacts(services.settings)[transfer.provider]
  const sentAt = services.now()
  return {
    verificationChannel: snapshot.channel ?? null,
    codeSentAt: sentAt,
    // A code with a known lifetime expires that long after the send we record (as resends do in
    // store.ts), not after the adapter's own clock read, which may be a tick earlier.
    codeExpiresAt:
      snapshot.codeExpiresAt == null
        ? null
        : facts.codeTtlMs === null
          ? snapshot.codeExpiresAt
          : sentAt + facts.codeTtlMs,
    // Rows created before confirm_limit existed fall back to the provider's own limit, else 5.
    attemptsRemaining: transfer.confirmLimit ?? facts.maxAttempts ?? 5,
    expiresAt: transfer.createdAt + services.settings.PENDING_TTL_SECONDS * 1000,
    leaseUntil: null,
  }
}

/**
 * Applies the provider's view of a transfer (from an answer, a webhook or the reconciler). If the
 * transfer moved meanwhile, decides again from its new status; a view the state machine refuses
 * (late, duplicate, backwards) changes nothing. `unleased`: only while no request holds the
 * transfer's provider call (see transition).
 */
export const applySnapshot = async (
  services: Services,
  transfer: Transfer,
  snapshot: ProviderSnapshot,
  set: Partial<NewTransfer> = {},
  options: { unleased?: boolean } = {},
): Promise<Transfer> => {
  let current = transfer
  for (let tries = 0; tries < 3; tries++) {
    const from = current.status as TransferStatus
    const to = snapshot.status ?? from
    if (to !== from && !canTransition(from, to)) return current
    const unchanged =
      to === from &&
      Object.keys(set).length === 0 &&
      snapshot.providerStatus === current.providerStatus &&
      (!snapshot.reference || snapshot.reference === current.providerReference)
    if (unchanged) return current
    const changes: Partial<NewTransfer> = {
      ...(from === 'submitting' && to === 'pending_verification' ? verificationStart(services, current, snapshot) : {}),
      ...set,
      providerStatus: snapshot.providerStatus,
      ...(snapshot.reference ? { providerReference: snapshot.reference } : {}),
      ...(snapshot.failure ? { failureCode: snapshot.failure.code, failureMessage: snapshot.failure.message } : {}),
    }
    const moved = await transition(services.db, current, to, changes, services.now(), options)
    if (moved) {
      services.dispatch(moved.deliveryIds)
      return moved.transfer
    }
    const reread = await findTransfer(services.db, { id: current.partnerId, mode: current.mode }, current.transferId)
    // Gone, or the id now names another transfer (forgotten and created again): nothing to apply to.
    if (!reread || reread.id !== current.id) return current
    current = reread
  }
  return current
}

/** Asks the provider where a transfer stands and applies it; used when an answer surprises us. */
export const reconcileTransfer = async (services: Services, partner: PartnerContext, transfer: Transfer) => {
  const provider = await services.providerFor(partner, transfer.provider)
  const result = await provider.fetchStatus(transfer)
  return result.ok ? applySnapshot(services, transfer, result.value) : transfer
}

/**
 * The provider said the transfer no longer waits for a code: learn how it ended before answering, so
 * the answer is true. If the provider still lists it as pending (it contradicts itself, or could not
 * be read), that is retryable, never a verdict a partner would give up a payment on.
 */
export const learnHowItEnded = async (services: Services, partner: PartnerContext, transfer: Transfer) => {
  const current = await reconcileTransfer(services, partner, transfer)
  if (current.status === 'pending_verification') {
    throw new Problem('service_unavailable', {
      detail: 'The provider no longer holds this transfer as pending but could not say how it ended; retry shortly.',
      headers: { 'retry-after': '5' },
    })
  }
  return current
}

/**
 * Ends a pending transfer on the gateway's side, for a provider with no cancel (QI): it asks the
 * provider first, since a confirm whose answer was lost may have approved the transfer, and never
 * overtakes a confirm still on its way (the lease). Answers the transfer as it then stands.
 */
export const endOnGatewaySide = async (
  services: Services,
  provider: TransferProvider,
  transfer: Transfer,
  to: 'canceled' | 'expired',
): Promise<Result<Transfer>> => {
  const view = await provider.fetchStatus(transfer)
  if (!view.ok) return view
  const current = await applySnapshot(services, transfer, view.value)
  if (current.status !== 'pending_verification') return { ok: true, value: current }
  const ended = await applySnapshot(
    services,
    current,
    { reference: current.providerReference, providerStatus: current.providerStatus ?? '', status: to },
    {},
    { unleased: true },
  )
  return { ok: true, value: ended }
}
