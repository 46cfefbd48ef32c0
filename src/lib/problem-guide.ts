import type { ProblemCode } from './problem'

/**
 * What each problem means and what to do about it: the page a problem's `type` URI opens
 * (GET /problems/{code}). One or two sentences each, for the engineer reading a log line.
 */
export const PROBLEM_GUIDE: Record<ProblemCode, string> = {
  malformed_json: 'The request body could not be parsed as JSON. Send a well-formed JSON object.',
  invalid_request:
    'One or more fields are missing or wrong; `errors` lists each with a JSON pointer. Fix them and send again.',
  unauthorized:
    'The API key (or admin token) is missing, unknown, revoked or expired. Send `Authorization: Bearer <key>`.',
  forbidden: 'The credentials are valid but may not do this.',
  key_not_permitted:
    'The API key is read-only: it may read (GET) but not create, change or delete anything. Use a full-access key for this call.',
  ip_not_allowed:
    "The request came from an address outside the partner's IP allowlist (as Cloudflare reports it). Call from an allowed address, or ask the operator to add yours.",
  account_not_allowed: 'The partner may not move money from this provider account (QI `account_key`).',
  not_found: 'No route or object answers to this path.',
  method_not_allowed: 'The path exists but not with this method; the `Allow` header lists the ones it takes.',
  payload_too_large: 'The request body is over the limit for this route; send less.',
  unsupported_media_type:
    'The body is not in the media type the route takes (application/json, or multipart/form-data for documents).',
  transfer_not_found: 'You have no transfer with this `transfer_id` (in this mode).',
  partner_not_found: 'No partner has this id.',
  api_key_not_found: 'The partner has no API key with this id.',
  api_key_inactive: 'The API key is revoked or has expired, so it cannot be rolled; issue a new key instead.',
  connection_not_found: 'The partner has no connection to this provider.',
  webhook_endpoint_not_found: 'You have no webhook endpoint with this id.',
  webhook_endpoint_busy: 'Another change to this endpoint is being made; retry shortly.',
  webhook_endpoint_disabled: 'The endpoint is disabled; enable it before sending to it.',
  event_not_found: 'You have no event with this id (it may have aged out of the retention window).',
  document_submission_not_found: 'You have no document submission with this id.',
  user_not_found: 'The provider does not know this end user; register the user with the provider first.',
  submission_in_flight: 'A submission with this Idempotency-Key is still being sent; retry shortly.',
  malformed_multipart: 'The multipart body could not be read; check its boundary and parts.',
  idempotency_key_reused:
    'This `transfer_id` or Idempotency-Key was already used with a different request; use a new one.',
  transfer_in_flight:
    'Another request for this transfer is still with the provider; retry after `Retry-After` with the same request.',
  transfer_not_pending_verification:
    'The transfer no longer takes codes; `transfer_status` says where it is. Read it before retrying.',
  verification_code_invalid:
    'The code is not the one that was sent; `attempts_remaining` says how many tries are left.',
  verification_code_expired: 'The code has expired; request a new one with `POST …/resend`, then confirm with it.',
  verification_attempts_exhausted: 'No confirm attempts are left; cancel the transfer or let it expire.',
  resend_limit_reached: 'All resends of this transfer are used.',
  resend_cooldown: 'A code was sent moments ago; wait `Retry-After` seconds before asking for another.',
  rate_limited: 'Too many requests in the window; wait `Retry-After` seconds. `RateLimit-*` headers show the budget.',
  provider_not_configured:
    'The partner has no connection to this provider (in this mode); an operator adds it through the admin API.',
  not_simulated:
    "Test-only controls drive the gateway's simulator; this transfer went to the partner's own test connection, whose provider sends the codes and moves the status.",
  outcome_not_allowed:
    'A test transfer moves only as a real one would: it completes or fails while pending, and comes back (returns) only once completed.',
  provider_rejected: 'The provider refused the request; `provider_error` carries its own words. Fix and send again.',
  provider_unavailable:
    'The provider could not be reached or failed. Retrying with the same `transfer_id` is safe: nothing is made twice.',
  provider_timeout: 'The provider did not answer in time. Retrying with the same `transfer_id` is safe.',
  provider_rate_limited: 'The provider is rate limiting the gateway; retry after `Retry-After`.',
  provider_authentication_failed:
    "The provider refused the partner's stored credentials; an operator must fix the connection (run its check).",
  provider_permission_denied:
    "The provider accepted the credentials, but the partner's provider account lacks a permission (sFOX: the enterprise transfer permission). Ask the provider to grant it.",
  webhook_signature_invalid:
    'A provider webhook could not be verified (signature, key, body digest, time or uri); it was not applied.',
  service_unavailable: 'The gateway cannot serve this right now (database or configuration); retry shortly.',
  internal_error: 'Something failed on our side; it has been logged. Quote `request_id` to support.',
}
