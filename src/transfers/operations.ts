import type { Db } from '../../db/client'
import type { NewTransfer, Transfer } from '../../db/schema'
import type { Settings } from '../lib/settings'
import { fieldProblem, Problem } from '../lib/problem'
import { sha256Hex } from '../lib/crypto'
import { newId } from '../lib/ids'
import { stableJson } from '../lib/json'
import type { PartnerContext, Services } from '../services'
import { PROVIDER_FACTS } from '../providers/facts'
import { isTransient, outcomeUnknown, type ProviderName, type ProviderSnapshot, type Result, type TransferProvider } from '../providers/provider'
import type { CreateTransferInput } from '../schemas/transfers'
import { decideConfirm, decideResend } from '../rules/verification'
import { problemFor } from '../providers/problems'
import { verificationStateOf } from '../rules/verification'
import { canTransition, type TransferStatus } from '../rules/transfer-states'
import {
  claimConfirmAttempt,
  claimCreate,
  claimResend,
  findTransfer,
  forgetCreate,
  refundConfirmAttempt,
  refundResend,
  releaseCreate,
  releaseLease,
  transition,
} from './store'

// How long a create owns its transfer; a replay after that may take over (the first one died). A
// create may make three provider calls (a lookup on resume or after a duplicate, the create, a
// second history page), each up to the provider timeout.
const createLeaseMs = (settings: Settings) => 3 * settings.PROVIDER_TIMEOUT_MS + 5_000
// A confirm owns a QI transfer a little longer than its provider call may take.
const confirmLeaseMs = (settings: Settings) => settings.PROVIDER_TIMEOUT_MS + 5_000

/** A QI-like transfer another confirm is still at the provider for. */
const holdsConfirmLease = (t: Transfer, now: number) =>
  PROVIDER_FACTS[t.provider].gatewaySideCancel &&
  t.status === 'pending_verification' &&
  (t.attemptsRemaining ?? 0) > 0 &&
  t.leaseUntil !== null &&
  t.leaseUntil >= now

const notFound = (transferId: string) =>
  new Problem('transfer_not_found', { detail: `No transfer with id "${transferId}".` })

const notPending = (t: Pick<Transfer, 'status' | 'expiresAt'>, now: number) => {
  const lapsed = t.status === 'pending_verification' && t.expiresAt !== null && t.expiresAt <= now
  return new Problem('transfer_not_pending_verification', {
    detail: lapsed
      ? 'The transfer waited for verification too long and is expiring; it no longer accepts codes.'
      : `The transfer is ${t.status}; it no longer accepts verification codes.`,
    extensions: { transfer_status: lapsed ? 'expired' : t.status },
  })
}

/**
 * What a transfer starts its verification with, however the gateway learns a code was sent: the
 * create's answer, or later a webhook or the reconciler (the answer was lost). The pending window
 * counts from the create.
 */
const verificationStart = (services: Services, transfer: Transfer, snapshot: ProviderSnapshot): Partial<NewTransfer> => {
  const facts = PROVIDER_FACTS[transfer.provider]
  const sentAt = services.now()
  return {
    verificationChannel: snapshot.channel ?? null,
    codeSentAt: sentAt,
    // A code with a known lifetime expires that long after the send we record (as resends do in
    // store.ts), not after the adapter's own clock read, which may be a tick earlier.
    codeExpiresAt: snapshot.codeExpiresAt == null ? null : facts.codeTtlMs === null ? snapshot.codeExpiresAt : sentAt + facts.codeTtlMs,
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
    const reread = await findTransfer(services.db, current.partnerId, current.transferId)
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

export type CreateResult = { transfer: Transfer; created: boolean }

/** Provider-specific permissions, checked before anything is stored or sent. */
const assertAllowed = (partner: PartnerContext, input: CreateTransferInput) => {
  if (input.provider !== 'qi') return
  const allowed = (partner.connections.qi?.settings as { account_keys?: string[] } | undefined)?.account_keys ?? []
  if (!allowed.includes(input.qi.account_key)) {
    throw fieldProblem(
      'qi.account_key',
      { code: 'not_allowed', message: 'not one of your QI accounts' },
      `This partner may not move money from QI account ${input.qi.account_key}.`,
      'account_not_allowed',
    )
  }
}

export const createTransfer = async (
  services: Services,
  partner: PartnerContext,
  input: CreateTransferInput,
): Promise<CreateResult> => {
  const provider = await services.providerFor(partner, input.provider)
  assertAllowed(partner, input)
  const now = services.now()
  const details = input.provider === 'sfox' ? input.sfox : input.qi
  const metadata = input.metadata ?? null
  const requestHash = await sha256Hex(stableJson({ provider: input.provider, details, metadata }))
  const id = newId('tr', now)
  const claim = await claimCreate(
    services.db,
    {
      id,
      ...provider.prepare(id),
      partnerId: partner.id,
      transferId: input.transfer_id,
      provider: input.provider,
      status: 'submitting',
      requestHash,
      details,
      metadata,
      leaseUntil: now + createLeaseMs(services.settings),
      resendLimit: partner.limits.resendLimit,
      resendCooldownMs: partner.limits.resendCooldownMs,
      confirmLimit: confirmAttemptsFor(partner, input.provider),
      createdAt: now,
      updatedAt: now,
    },
    now,
  )
  switch (claim.kind) {
    case 'conflict':
      throw new Problem('idempotency_key_reused', {
        detail: `transfer_id "${input.transfer_id}" was already used with a different request body.`,
      })
    case 'in_flight':
      throw new Problem('transfer_in_flight', {
        detail: `A request for transfer_id "${input.transfer_id}" is still being processed; retry shortly.`,
        headers: { 'retry-after': '1' },
      })
    case 'replay':
      return { transfer: claim.transfer, created: false }
  }
  return submit(services, partner, provider, claim.transfer, claim.kind === 'resumed')
}

/** The gateway's attempt limit, never looser than the provider's own. */
const confirmAttemptsFor = (partner: PartnerContext, provider: ProviderName) => {
  const providerMax = PROVIDER_FACTS[provider].maxAttempts
  return providerMax === null ? partner.limits.confirmAttempts : Math.min(providerMax, partner.limits.confirmAttempts)
}

/** Sends a claimed `submitting` transfer to its provider and records the outcome. */
const submit = async (
  services: Services,
  partner: PartnerContext,
  provider: TransferProvider,
  transfer: Transfer,
  resumed: boolean,
): Promise<CreateResult> => {
  const result = await provider.create(transfer, { resumed })
  const now = services.now()
  if (!result.ok) {
    // A refusal forgets the transfer (the id may be reused), unless an earlier attempt may have
    // reached the provider: then the refusal proves nothing about it, and the reconciler decides.
    const heldLease = transfer.leaseUntil ?? 0
    if (isTransient(result.error.kind) || resumed) await releaseCreate(services.db, transfer.id, now, heldLease)
    else await forgetCreate(services.db, transfer.id, heldLease)
    throw problemFor(result.error)
  }
  const snapshot = result.value
  const updated = await applySnapshot(services, transfer, { ...snapshot, status: snapshot.status ?? 'processing' }, { leaseUntil: null })
  return { transfer: updated, created: true }
}

export const confirmTransfer = async (
  services: Services,
  partner: PartnerContext,
  transferId: string,
  code: string,
): Promise<Transfer> => {
  const now = services.now()
  const lease = now + confirmLeaseMs(services.settings)
  const { claimed, current } = await claimConfirmAttempt(services.db, partner.id, transferId, now, lease)
  if (!current) throw notFound(transferId)
  if (!claimed) {
    if (holdsConfirmLease(current, now)) {
      throw new Problem('transfer_in_flight', {
        detail: 'Another confirm of this transfer is being processed by the provider; retry shortly.',
        headers: { 'retry-after': '1' },
      })
    }
    const decision = decideConfirm(verificationStateOf(current), services.now())
    if (!decision.allowed && decision.code === 'verification_attempts_exhausted') {
      throw new Problem('verification_attempts_exhausted', {
        detail: 'No confirm attempts are left for this transfer; cancel it or let it expire.',
        extensions: { attempts_remaining: 0 },
      })
    }
    throw notPending(current, services.now())
  }

  const provider = await services.providerFor(partner, claimed.provider).catch(async (error: unknown) => {
    await refundConfirmAttempt(services.db, claimed.id, services.now(), lease)
    throw error
  })
  const result = await provider.confirm(claimed, code)
  // A status the gateway cannot place yet keeps the lease until it runs out: the code was accepted.
  if (result.ok) return applySnapshot(services, claimed, result.value, result.value.status === null ? {} : { leaseUntil: null })

  const error = result.error
  const attemptsLeft = claimed.attemptsRemaining ?? 0
  switch (error.kind) {
    case 'invalid_code':
      // The attempt is spent (the claim already counted it); only the lease is given back.
      if (PROVIDER_FACTS[claimed.provider].gatewaySideCancel) await releaseLease(services.db, claimed.id, lease)
      throw problemFor(error, { attempts_remaining: attemptsLeft })
    case 'attempts_exhausted': {
      // The provider gave up on the transfer (QI rejects it after its last attempt).
      const snapshot = error.snapshot ?? { reference: null, providerStatus: claimed.providerStatus ?? '', status: 'failed' as const }
      await applySnapshot(services, claimed, {
        ...snapshot,
        failure: { code: 'verification_attempts_exhausted', message: error.message },
      }, { attemptsRemaining: 0, leaseUntil: null })
      throw problemFor(error, { attempts_remaining: 0 })
    }
    case 'not_pending':
      await refundConfirmAttempt(services.db, claimed.id, services.now(), lease)
      services.defer(reconcileTransfer(services, partner, claimed))
      throw problemFor(error)
    default:
      // Expired code, outage, refusal: the code was not judged, so the attempt is given back. After a
      // timeout or an unusable answer the provider may have judged it after all: the lease stays.
      await refundConfirmAttempt(services.db, claimed.id, services.now(), lease, outcomeUnknown(error))
      throw problemFor(error, error.kind === 'expired_code' ? { attempts_remaining: attemptsLeft + 1 } : {})
  }
}

export const resendCode = async (
  services: Services,
  partner: PartnerContext,
  transferId: string,
  channel: 'sms' | 'email' | undefined,
): Promise<Transfer> => {
  const now = services.now()
  const { previous, claimed } = await claimResend(services.db, partner.id, transferId, now, channel)
  if (!previous) throw notFound(transferId)
  if (!claimed) {
    const channels = PROVIDER_FACTS[previous.provider].channels
    if (channel && !channels.includes(channel)) {
      throw fieldProblem('channel', { code: 'unsupported', message: `must be one of: ${channels.join(', ')}` }, `This provider sends codes by ${channels.join(' or ')} only.`)
    }
    const state = verificationStateOf(previous)
    if (state.status === 'pending_verification' && (state.attemptsRemaining ?? 0) <= 0) {
      throw new Problem('verification_attempts_exhausted', {
        detail: 'No confirm attempts are left, so a new code would be of no use.',
        extensions: { attempts_remaining: 0 },
      })
    }
    const decision = decideResend(state, now)
    if (decision.allowed || decision.code === 'transfer_not_pending_verification') throw notPending(previous, now)
    throw new Problem(decision.code, {
      detail:
        decision.code === 'resend_cooldown'
          ? `Wait ${decision.retryAfterSeconds} s before sending another code.`
          : `All ${previous.resendLimit} resends of this transfer are used.`,
      headers: decision.retryAfterSeconds ? { 'retry-after': String(decision.retryAfterSeconds) } : undefined,
      extensions: { resends_remaining: Math.max(0, previous.resendLimit - previous.resendsUsed) },
    })
  }

  const provider = await services.providerFor(partner, claimed.provider).catch(async (error: unknown) => {
    await refundResend(services.db, previous, now, services.now())
    throw error
  })
  const result = await provider.resend(claimed, channel ?? claimed.verificationChannel ?? undefined)
  if (result.ok) return claimed
  // A resend that timed out or got no usable answer may have sent a code: it stays counted (and
  // keeps the cooldown), or repeated timeouts could send codes without limit.
  if (!outcomeUnknown(result.error)) await refundResend(services.db, previous, now, services.now())
  if (result.error.kind === 'not_pending') services.defer(reconcileTransfer(services, partner, claimed))
  if (result.error.kind === 'attempts_exhausted') {
    await applySnapshot(services, claimed, {
      ...(result.error.snapshot ?? { reference: null, providerStatus: claimed.providerStatus ?? '', status: 'failed' }),
      failure: { code: 'verification_attempts_exhausted', message: result.error.message },
    }, { attemptsRemaining: 0 })
  }
  throw problemFor(result.error)
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

export const cancelTransfer = async (
  services: Services,
  partner: PartnerContext,
  transferId: string,
): Promise<Transfer> => {
  const transfer = await findTransfer(services.db, partner.id, transferId)
  if (!transfer) throw notFound(transferId)
  if (transfer.status === 'canceled') return transfer
  if (transfer.status !== 'pending_verification') throw notPending(transfer, services.now())

  const provider = await services.providerFor(partner, transfer.provider)
  if (!provider.cancel) {
    // No provider-side cancel (QI): the gateway refuses every later confirm and never forwards it.
    const ended = await endOnGatewaySide(services, provider, transfer, 'canceled')
    if (!ended.ok) throw problemFor(ended.error)
    const canceled = ended.value
    if (canceled.status === 'pending_verification') {
      throw new Problem('transfer_in_flight', {
        detail: 'A confirm of this transfer is being processed; retry the cancel shortly.',
        headers: { 'retry-after': '1' },
      })
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
    const current = await reconcileTransfer(services, partner, transfer)
    if (current.status === 'canceled') return current
    if (current.status === 'pending_verification') {
      // The provider says it is settled but could not tell how: retryable, not a verdict.
      throw new Problem('service_unavailable', {
        detail: 'The provider no longer holds this transfer as pending but could not say how it ended; retry shortly.',
        headers: { 'retry-after': '5' },
      })
    }
    throw notPending(current, services.now())
  }
  throw problemFor(result.error)
}
