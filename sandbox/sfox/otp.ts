import { randomInt } from 'node:crypto'
import type { SfoxSettings } from './settings'
import type { Otp, SfoxState, Transfer } from './state'

const randomDigits = (length: number) => Array.from({ length }, () => randomInt(0, 10)).join('')

/** Sandbox mailbox of an end user: sFOX emails transfer codes to the user (§5.3), never to the partner. */
export const mailboxOf = (userId: string) => `${userId}@users.sfox.sandbox`

/** Issues a fresh code (replacing any earlier one, whose attempts are forgotten) and "emails" it to the outbox. */
export const sendCode = (
  state: SfoxState,
  settings: SfoxSettings,
  transfer: Transfer,
  reason: 'created' | 'resend',
  now = state.clock.now(),
) => {
  const code = settings.fixed_otp ?? randomDigits(settings.otp_length)
  transfer.previous_otps =
    !settings.resend_invalidates_previous_code && transfer.otp ? [...transfer.previous_otps, transfer.otp] : []
  transfer.otp = { code, sent_at: now, expires_at: now + settings.otp_ttl_ms, attempts: 0 }
  state.recordEmail({
    transfer_id: transfer.transfer_id,
    account: transfer.account,
    user_id: transfer.user_id,
    to: mailboxOf(transfer.user_id),
    code,
    sent_at: new Date(now).toISOString(),
    expires_at: new Date(transfer.otp.expires_at).toISOString(),
    reason,
  })
}

export type CodeCheck = 'ok' | 'expired' | 'burned' | 'invalid'

/**
 * [INFERRED] §9 order: a burned code refuses even the right code until a resend; an expired code is
 * refused without counting an attempt; each wrong try counts, and the one that reaches
 * `otp_max_attempts` still answers "invalid" (the next try sees the burned code).
 * A pending transfer without a code (forced back to PENDING by the control API) reads as expired.
 */
export const checkCode = (settings: SfoxSettings, transfer: Transfer, given: string, now: number): CodeCheck => {
  const live = (o: Otp) => now < o.expires_at && o.attempts < settings.otp_max_attempts
  if (transfer.previous_otps.some((o) => o.code === given && live(o))) return 'ok'
  const otp = transfer.otp
  if (!otp) return 'expired'
  if (otp.attempts >= settings.otp_max_attempts) return 'burned'
  if (now >= otp.expires_at) return 'expired'
  if (given === otp.code) return 'ok'
  otp.attempts += 1
  return 'invalid'
}
