import { randomInt } from 'node:crypto'
import type { Tx } from './effects'
import { changeStatus } from './lifecycle'
import type { ContactType, QiSandbox, Ted, TokenRecord } from './state'

/**
 * 2FA token rules (reference §5, state machine §5.5): 6-character tokens living `token_ttl_ms`;
 * `max_attempts` failed validations counted across resends reject the TED; a resend issues a new
 * token, restarts the clock and invalidates the old one without resetting the counter.
 * [DOC 004] a resend generates a new token and is refused (TED000082) once the attempt limit is exceeded;
 * [INFERRED] the 5-minute life and the limit of 5 are not on that page (settings, by analogy with schedules/Pix).
 */

export const TOKEN_LENGTH = 6

const newToken = (sb: QiSandbox): string => {
  if (sb.settings.fixed_token) return sb.settings.fixed_token
  const alphabet = sb.settings.token_alphabet
  return Array.from({ length: TOKEN_LENGTH }, () => alphabet[randomInt(alphabet.length)]).join('')
}

/** "Sends" a token to the approver (readable at GET /_sandbox/tokens); device approval has none. */
export const issueToken = (tx: Tx, ted: Ted, reason: TokenRecord['reason'], contactType?: ContactType): void => {
  const { sb } = tx
  const now = sb.clock.now()
  if (contactType) ted.tfa.contact_type = contactType
  ted.tfa.expires_ms = now + sb.settings.token_ttl_ms
  if (ted.tfa.contact_type === 'device') {
    ted.tfa.token = null
    return
  }
  ted.tfa.token = newToken(sb)
  tx.state.tokens.push({
    ted_key: ted.ted_key,
    token: ted.tfa.token,
    contact_type: ted.tfa.contact_type,
    sent_at: new Date(now).toISOString(),
    expires_at: new Date(ted.tfa.expires_ms).toISOString(),
    reason,
    seq: sb.store.nextSeq(),
  })
}

const exhausted = (sb: QiSandbox, ted: Ted) =>
  ted.ted_status === 'rejected' && ted.tfa.attempts >= sb.settings.max_attempts

export type ValidateOutcome = 'approved' | 'wrong' | 'expired' | 'rejected_now' | 'exhausted' | 'not_pending'

/** Applies one validate_token call to the TED's 2FA state; the caller maps the outcome to HTTP. */
export const checkToken = (tx: Tx, ted: Ted, token: string | undefined): ValidateOutcome => {
  const { sb } = tx
  if (exhausted(sb, ted)) return 'exhausted'
  if (ted.ted_status !== 'pending_2fa_approval') return 'not_pending'
  if (ted.tfa.contact_type === 'device') return 'approved'
  const expired = sb.clock.now() >= ted.tfa.expires_ms
  // [INFERRED] setting `expired_counts_as_attempt`: whether an expired try uses up an attempt is undocumented.
  if (expired && !sb.settings.expired_counts_as_attempt) return 'expired'
  if (!expired && token === ted.tfa.token) return 'approved'
  ted.tfa.attempts += 1
  if (ted.tfa.attempts >= sb.settings.max_attempts) {
    changeStatus(tx, ted, 'rejected', {})
    return 'rejected_now'
  }
  return expired ? 'expired' : 'wrong'
}

export type ResendOutcome = 'resent' | 'exhausted' | 'not_pending' | 'no_channel' | 'send_failed'

/**
 * Applies one resend_token call; without `contactType` the original channel is kept. With the setting
 * `resend_token_error` sending fails ([DOC 004] TED000087) and, [INFERRED], nothing changes: no new token, the
 * current one keeps its expiry, the channel is not switched.
 */
export const resendToken = (tx: Tx, ted: Ted, contactType: 'sms' | 'email' | undefined): ResendOutcome => {
  const { sb } = tx
  if (exhausted(sb, ted)) return 'exhausted'
  if (ted.ted_status !== 'pending_2fa_approval') return 'not_pending'
  if (!contactType && ted.tfa.contact_type === 'device') return 'no_channel'
  if (sb.settings.resend_token_error) return 'send_failed'
  issueToken(tx, ted, 'resend', contactType)
  return 'resent'
}
