import type { Transfer } from '../../db/schema'
import { fieldProblem, Problem } from '../lib/problem'
import { problemFor, providerErrorOf } from '../providers/problems'
import { outcomeUnknown } from '../providers/provider'
import { providerFacts } from '../providers/registry'
import { decideResend, verificationStateOf } from '../rules/verification'
import type { PartnerContext, Services } from '../services'
import { applySnapshot, learnHowItEnded } from './apply'
import { notPending, transferNotFound } from './problems'
import { claimResend, refundResend } from './store/verification'

export const resendCode = async (
  services: Services,
  partner: PartnerContext,
  transferId: string,
  channel: 'sms' | 'email' | undefined,
): Promise<Transfer> => {
  const now = services.now()
  const { previous, claimed } = await claimResend(
    services.db,
    partner,
    transferId,
    now,
    channel,
    providerFacts(services.settings),
  )
  if (!previous) throw transferNotFound(transferId)
  if (!claimed) {
    const channels = providerFacts(services.settings)[previous.provider].channels
    if (channel && !channels.includes(channel)) {
      throw fieldProblem(
        'channel',
        { code: 'unsupported', message: `must be one of: ${channels.join(', ')}` },
        `This provider sends codes by ${channels.join(' or ')} only.`,
      )
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
  if (result.error.kind === 'not_pending') {
    const current = await learnHowItEnded(services, partner, claimed)
    throw notPending(current, now, { provider_error: providerErrorOf(result.error) })
  }
  if (result.error.kind === 'attempts_exhausted') {
    await applySnapshot(
      services,
      claimed,
      {
        ...(result.error.snapshot ?? {
          reference: null,
          providerStatus: claimed.providerStatus ?? '',
          status: 'failed',
        }),
        failure: { code: 'verification_attempts_exhausted', message: result.error.message },
      },
      { attemptsRemaining: 0 },
    )
  }
  throw problemFor(result.error)
}
