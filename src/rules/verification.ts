/**
 * Pure rules for pending verification: resend quota and cooldown, confirm attempts. Storage applies
 * the same rules atomically in conditional UPDATEs; these functions explain a refusal (problem code,
 * Retry-After) and render the `verification` object.
 */
export type VerificationState = {
  status: string
  resendsUsed: number
  resendLimit: number
  resendCooldownMs: number
  codeSentAt: number | null
  attemptsRemaining: number | null
  /** When the transfer stops being confirmable at all (pending TTL). */
  expiresAt: number | null
}

export type Refusal<Code extends string> = { allowed: false; code: Code; retryAfterSeconds?: number }

export type ResendDecision =
  | { allowed: true }
  | Refusal<'transfer_not_pending_verification' | 'resend_limit_reached' | 'resend_cooldown'>

const secondsUntil = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000))

export const resendsRemaining = (s: VerificationState): number => Math.max(0, s.resendLimit - s.resendsUsed)

/** When the next resend may be sent; null when none may be sent any more. */
export const nextResendAt = (s: VerificationState): number | null => {
  if (s.status !== 'pending_verification' || resendsRemaining(s) === 0) return null
  return s.codeSentAt === null ? 0 : s.codeSentAt + s.resendCooldownMs
}

/** Past its TTL a transfer no longer takes codes, even before the cron marks it expired. */
const pendingAt = (s: VerificationState, now: number) =>
  s.status === 'pending_verification' && (s.expiresAt === null || s.expiresAt > now)

export const decideResend = (s: VerificationState, now: number): ResendDecision => {
  if (!pendingAt(s, now)) return { allowed: false, code: 'transfer_not_pending_verification' }
  if (resendsRemaining(s) === 0) {
    // Nothing changes for this transfer until it expires, so that is when a retry could mean something.
    const retryAfterSeconds = s.expiresAt === null ? undefined : secondsUntil(s.expiresAt, now)
    return { allowed: false, code: 'resend_limit_reached', retryAfterSeconds }
  }
  const at = nextResendAt(s)!
  if (s.resendCooldownMs > 0 && at > now)
    return { allowed: false, code: 'resend_cooldown', retryAfterSeconds: secondsUntil(at, now) }
  return { allowed: true }
}

export type ConfirmDecision =
  | { allowed: true }
  | Refusal<'transfer_not_pending_verification' | 'verification_attempts_exhausted'>

export const decideConfirm = (s: VerificationState, now: number): ConfirmDecision => {
  if (!pendingAt(s, now)) return { allowed: false, code: 'transfer_not_pending_verification' }
  if ((s.attemptsRemaining ?? 0) <= 0) return { allowed: false, code: 'verification_attempts_exhausted' }
  return { allowed: true }
}

/** Just the verification fields of a transfer row (or anything that has them). */
export const verificationStateOf = (t: VerificationState): VerificationState => ({
  status: t.status,
  resendsUsed: t.resendsUsed,
  resendLimit: t.resendLimit,
  resendCooldownMs: t.resendCooldownMs,
  codeSentAt: t.codeSentAt,
  attemptsRemaining: t.attemptsRemaining,
  expiresAt: t.expiresAt,
})
