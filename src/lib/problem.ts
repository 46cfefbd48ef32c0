import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

/**
 * Every error the API can answer, by stable code. The code is the contract partners branch on;
 * status and title follow from it. Rendered as RFC 9457 application/problem+json.
 */
export const PROBLEMS = {
  malformed_json: [400, 'Malformed JSON'],
  invalid_request: [422, 'Invalid request'],
  unauthorized: [401, 'Unauthorized'],
  forbidden: [403, 'Forbidden'],
  key_not_permitted: [403, 'API key not permitted'],
  ip_not_allowed: [403, 'IP address not allowed'],
  account_not_allowed: [403, 'Account not allowed'],
  not_found: [404, 'Not found'],
  method_not_allowed: [405, 'Method not allowed'],
  payload_too_large: [413, 'Payload too large'],
  unsupported_media_type: [415, 'Unsupported media type'],
  transfer_not_found: [404, 'Transfer not found'],
  partner_not_found: [404, 'Partner not found'],
  api_key_not_found: [404, 'API key not found'],
  api_key_inactive: [409, 'API key revoked or expired'],
  connection_not_found: [404, 'Provider connection not found'],
  webhook_endpoint_not_found: [404, 'Webhook endpoint not found'],
  webhook_endpoint_busy: [409, 'Webhook endpoint busy'],
  webhook_endpoint_disabled: [409, 'Webhook endpoint disabled'],
  event_not_found: [404, 'Event not found'],
  document_submission_not_found: [404, 'Document submission not found'],
  user_not_found: [404, 'End user not found'],
  submission_in_flight: [409, 'Submission in flight'],
  malformed_multipart: [400, 'Malformed multipart body'],
  idempotency_key_reused: [422, 'Idempotency key reused'],
  transfer_in_flight: [409, 'Transfer request in flight'],
  transfer_not_pending_verification: [409, 'Transfer not pending verification'],
  verification_code_invalid: [422, 'Verification code invalid'],
  verification_code_expired: [422, 'Verification code expired'],
  verification_attempts_exhausted: [422, 'Verification attempts exhausted'],
  resend_limit_reached: [429, 'Resend limit reached'],
  resend_cooldown: [429, 'Resend cooldown'],
  rate_limited: [429, 'Rate limited'],
  provider_not_configured: [422, 'Provider not configured'],
  not_simulated: [409, 'Not simulated'],
  outcome_not_allowed: [409, 'Outcome not allowed'],
  provider_rejected: [422, 'Rejected by provider'],
  provider_unavailable: [502, 'Provider unavailable'],
  provider_timeout: [504, 'Provider timeout'],
  provider_rate_limited: [503, 'Provider rate limited'],
  provider_authentication_failed: [502, 'Provider authentication failed'],
  provider_permission_denied: [403, 'Provider permission missing'],
  webhook_signature_invalid: [401, 'Webhook signature invalid'],
  service_unavailable: [503, 'Service unavailable'],
  internal_error: [500, 'Internal error'],
} as const satisfies Record<string, readonly [number, string]>

export type ProblemCode = keyof typeof PROBLEMS

export type ProblemInit = {
  detail?: string
  headers?: Record<string, string>
  /** Extension members, e.g. `errors`, `attempts_remaining`, `provider_error`. */
  extensions?: Record<string, unknown>
}

/** Thrown anywhere below a route; `app.onError` renders it. */
export class Problem extends Error {
  constructor(
    readonly code: ProblemCode,
    readonly init: ProblemInit = {},
  ) {
    super(init.detail ?? PROBLEMS[code][1])
  }
}

/**
 * One field of the request is wrong (422, or `code` when the refusal has its own): `errors` names it
 * as everywhere else, by dotted field and JSON pointer.
 */
export const fieldProblem = (
  field: string,
  error: { code: string; message: string; pointer?: string },
  detail: string,
  problem: ProblemCode = 'invalid_request',
  extensions: Record<string, unknown> = {},
) =>
  new Problem(problem, {
    detail,
    extensions: {
      ...extensions,
      errors: [
        { field, pointer: error.pointer ?? `/${field.split('.').join('/')}`, code: error.code, message: error.message },
      ],
    },
  })

/** A problem's `type` URI: its page on this deployment (GET /problems/{code}), or under PROBLEM_TYPE_BASE. */
export const problemType = (code: ProblemCode, base: string) => `${base.replace(/\/?$/, '/')}${code}`

export const problemBody = (code: ProblemCode, init: ProblemInit, requestId: string | undefined, typeBase: string) => {
  const [status, title] = PROBLEMS[code]
  return {
    type: problemType(code, typeBase),
    title,
    status,
    detail: init.detail ?? title,
    code,
    request_id: requestId ?? null,
    ...init.extensions,
  }
}

/** Where this deployment's problem pages are: PROBLEM_TYPE_BASE, else this origin's /problems/. */
export const typeBaseOf = (c: Context): string => {
  const configured = (c.get('services') as { settings?: { PROBLEM_TYPE_BASE?: string } } | undefined)?.settings
    ?.PROBLEM_TYPE_BASE
  return configured || `${new URL(c.req.url).origin}/problems/`
}

export const renderProblem = (c: Context, problem: Problem): Response => {
  const body = problemBody(problem.code, problem.init, c.get('requestId'), typeBaseOf(c))
  // c.body (not new Response) so headers set earlier by middleware (request id) are kept.
  return c.body(JSON.stringify(body), body.status as ContentfulStatusCode, {
    'content-type': 'application/problem+json',
    ...problem.init.headers,
  })
}
