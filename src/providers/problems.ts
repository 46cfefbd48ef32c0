import { Problem, type ProblemCode } from '../lib/problem'
import type { ProviderError, ProviderErrorKind } from './provider'

const CODES: Record<ProviderErrorKind, ProblemCode> = {
  invalid_code: 'verification_code_invalid',
  expired_code: 'verification_code_expired',
  attempts_exhausted: 'verification_attempts_exhausted',
  not_pending: 'transfer_not_pending_verification',
  not_found: 'provider_rejected',
  duplicate: 'provider_rejected',
  rejected: 'provider_rejected',
  unauthorized: 'provider_authentication_failed',
  permission_denied: 'provider_permission_denied',
  rate_limited: 'provider_rate_limited',
  unavailable: 'provider_unavailable',
  timeout: 'provider_timeout',
}

const DETAILS: Partial<Record<ProviderErrorKind, string>> = {
  invalid_code: 'The code is not the one that was sent.',
  expired_code: 'The code has expired; request a new one with /resend.',
  attempts_exhausted: 'No confirm attempts are left for this transfer.',
  not_pending: 'The transfer is no longer waiting for a verification code.',
  unauthorized: "The provider refused the gateway's credentials for this partner.",
  permission_denied:
    "The provider accepted the partner's credentials but the partner's account lacks the permission for this; the provider must grant it.",
  rate_limited: 'The provider is rate limiting the gateway; retry later.',
  unavailable: 'The provider could not be reached or failed; retrying with the same transfer_id is safe.',
  timeout: 'The provider did not answer in time; retrying with the same transfer_id is safe.',
}

/** The provider's own words, as every problem that comes from a provider carries them. */
export const providerErrorOf = (error: ProviderError) => ({
  provider: error.provider,
  status: error.status,
  code: error.code,
  message: error.message,
})

/**
 * A provider error as the partner sees it: our problem code, the provider's own words attached. The
 * details speak of transfers; another resource says what a retry does to it in `detail`.
 */
export const problemFor = (error: ProviderError, extensions: Record<string, unknown> = {}, detail?: string): Problem =>
  new Problem(CODES[error.kind], {
    detail: detail ?? DETAILS[error.kind] ?? `The provider refused the request: ${error.message}`,
    headers: error.retryAfterSeconds ? { 'retry-after': String(error.retryAfterSeconds) } : undefined,
    extensions: {
      ...extensions,
      provider_error: providerErrorOf(error),
    },
  })
