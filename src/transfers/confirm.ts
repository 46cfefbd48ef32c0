import type { Transfer } from '../../db/schema'
import { Problem } from '../lib/problem'
import type { Settings } from '../lib/settings'
import { problemFor, providerErrorOf } from '../providers/problems'
import { outcomeUnknown } from '../providers/provider'
import { PROVIDER_FACTS } from '../providers/registry'
import { decideConfirm, verificationStateOf } from '../rules/verification'
import type { PartnerContext, Services } from '../services'
import { applySnapshot, learnHowItEnded } from './apply'
import { inFlight, notPending, transferNotFound } from './problems'
import { claimConfirmAttempt, refundConfirmAttempt, releaseLease } from './store/verification'

// A confirm owns a QI transfer a little longer than its provider call may take.
const confirmLeaseMs = (settings: Settings) => settings.PROVIDER_TIMEOUT_MS + 5_000

/** A QI-like transfer another confirm is still at the provider for. */
const holdsConfirmLease = (t: Transfer, now: number) =>
  PROVIDER_FACTS[t.provider].gatewaySideCancel &&
  t.status === 'pending_verification' &&
  (t.attemptsRemaining ?? 0) > 0 &&
  t.leaseUntil !== null &&
  t.leaseUntil >= now

export const confirmTransfer = async (
  services: Services,
  partner: PartnerContext,
  transferId: string,
  code: string,
): Promise<Transfer> => {
  const now = services.now()
  const lease = now + confirmLeaseMs(services.settings)
  const { claimed, current } = await claimConfirmAttempt(services.db, partner, transferId, now, lease)
  if (!current) throw transferNotFound(transferId)
  if (!claimed) {
    if (holdsConfirmLease(current, now)) {
      throw inFlight('Another confirm of this transfer is being processed by the provider; retry shortly.')
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
  if (result.ok) {
    // Only a wrong code spends an attempt: an accepted one gives back what the claim took. A status
    // the gateway cannot place yet keeps the lease until it runs out.
    const refunded = { attemptsRemaining: (claimed.attemptsRemaining ?? 0) + 1 }
    return applySnapshot(
      services,
      claimed,
      result.value,
      result.value.status === null ? refunded : { ...refunded, leaseUntil: null },
    )
  }

  const error = result.error
  const attemptsLeft = claimed.attemptsRemaining ?? 0
  switch (error.kind) {
    case 'invalid_code':
      // The attempt is spent (the claim already counted it); only the lease is given back.
      if (PROVIDER_FACTS[claimed.provider].gatewaySideCancel) await releaseLease(services.db, claimed.id, lease)
      throw problemFor(error, { attempts_remaining: attemptsLeft })
    case 'attempts_exhausted': {
      // The provider gave up on the transfer (QI rejects it after its last attempt).
      const snapshot = error.snapshot ?? {
        reference: null,
        providerStatus: claimed.providerStatus ?? '',
        status: 'failed' as const,
      }
      await applySnapshot(
        services,
        claimed,
        {
          ...snapshot,
          failure: { code: 'verification_attempts_exhausted', message: error.message },
        },
        { attemptsRemaining: 0, leaseUntil: null },
      )
      throw problemFor(error, { attempts_remaining: 0 })
    }
    case 'not_pending':
      // E.g. an earlier confirm whose answer was lost completed it: answer with where it is now.
      await refundConfirmAttempt(services.db, claimed.id, services.now(), lease)
      throw notPending(await learnHowItEnded(services, partner, claimed), services.now(), {
        provider_error: providerErrorOf(error),
      })
    default:
      // Expired code, outage, refusal: the code was not judged, so the attempt is given back. After a
      // timeout or an unusable answer the provider may have judged it after all: the lease stays.
      await refundConfirmAttempt(services.db, claimed.id, services.now(), lease, outcomeUnknown(error))
      throw problemFor(error, error.kind === 'expired_code' ? { attempts_remaining: attemptsLeft + 1 } : {})
  }
}
