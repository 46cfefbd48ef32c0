/**
 * Behaviour switches of the QI sandbox. Everything the reference (/work/shared/providers/qi.md) marks
 * [INFERRED] is a setting here, so the gateway can be tested against each plausible reading of the docs.
 * Change them with `POST /_sandbox/settings` (partial object, validated) or `createQiSandbox(settings)`.
 */
export type ResponseSigning = 'none' | 'header' | 'encoded_body' | 'by_scheme'

export type TedWindow = {
  /** 0 = Sunday … 6 = Saturday, in the window's own UTC offset. */
  weekdays: number[]
  /** "HH:MM", inclusive start, exclusive end. */
  start: string
  end: string
  utc_offset_minutes: number
}

export type QiSettings = {
  /** [INFERRED] Whether/how v2 responses are signed is not public: "header" (JWT in AUTHORIZATION), "encoded_body" (v1 form), "by_scheme" (v1 form only for v1 requests), "none". */
  response_signing: ResponseSigning
  /** [INFERRED] Sign-time tolerance is undocumented; QI's Node sample uses 5 minutes for responses. */
  timestamp_tolerance_ms: number
  /**
   * Signature timestamps are checked against wall time by default, not the sandbox clock: advancing the
   * clock to expire a token must not make every client's freshly signed request look stale.
   */
  signature_clock: 'wall' | 'sandbox'
  /**
   * [INFERRED] Whether the signed `uri` of an incoming request includes the query string is undocumented (no QI
   * sample signs a query; a 3P client signs the bare path): "excluded" (path only), "included" (path + "?" +
   * query, as sent), "either".
   */
  signed_uri_query: 'excluded' | 'included' | 'either'
  /**
   * [INFERRED] The `uri` (v1: endpoint) QI signs into its own answers: "path" (without the query string) or
   * "path_and_query" (as the request was sent). QI's pages show neither form for an answer to a request with a
   * query; independent of `signed_uri_query` (what QI wants from the client).
   */
  answer_signed_uri: 'path' | 'path_and_query'
  /**
   * MD5s accepted for a request without a body, any method. [DOC] "GET and DELETE hash an empty payload";
   * [QI-REPO/DOC sample] the Python sample hashes json.dumps({}) = "{}" for any body-less request; "" is what a
   * client hashing the bytes sent computes ([INFERRED]). Both by default.
   */
  empty_payload_md5_of: string[]
  /**
   * Shifts the sandbox's own clock ("QI's clock") by this many ms, for the timestamps it signs (answers, webhooks,
   * the Date header) and the freshness check of incoming signatures. Not a QI fact: a test switch to simulate
   * clock skew between QI and a client.
   */
  clock_offset_ms: number
  /**
   * [INFERRED] What `payload_md5` of a webhook QI sends is the MD5 of: "raw" (the exact body bytes sent) or
   * "json_dumps" (of Python's json.dumps(parsed body) — what QI's webhook verification sample recomputes; it
   * differs from the raw bytes when those are compact or hold non-ASCII text).
   */
  webhook_md5_form: 'raw' | 'json_dumps'
  /**
   * [INFERRED] The `uri` claim of a webhook: "path" (of the receiving URL; QI's sample decodes to "/test") or
   * "full_url" (the whole URL the webhook is POSTed to, as configured).
   */
  webhook_signed_uri: 'path' | 'full_url'
  /** [INFERRED] The HTTP status of a successful 2FA create is not public; 202 is likely (resend, same shape, is 202). */
  create_http_status: 200 | 201 | 202
  /** [INFERRED] Reused request_control_key: 409 (as on QI's CaaS pages) or answer the existing TED. */
  duplicate_request_control_key: 'conflict' | 'return_existing'
  /** [INFERRED] A non-uuid4 request_control_key: TED000046 ("Invalid uuid v4 string sent", seen on schedule pages) or a plain schema error. */
  invalid_uuid_code: 'TED000046' | 'QIT000001'
  /** [INFERRED] QI's insufficient-balance code for TED is not public; only used when an account has a balance. */
  insufficient_balance_code: string
  /** Fee charged per TED (docs show 10 and 0.0; it is a partner contract detail). */
  fee_amount: number
  /** [DOC-other] TED only runs on business days 07:00–17:00 (legacy page); TED000011 otherwise. Off by default. */
  ted_window_check: boolean
  ted_window: TedWindow
  /** [INFERRED] TED schedule tokens are "composed of numbers"; Pix pages say letters and digits. */
  token_alphabet: string
  /** [DOC-other] The legacy flow's sandbox always used "329329"; null issues random tokens. */
  fixed_token: string | null
  /**
   * [INFERRED] Not stated on the single-TED resend page (004): the 5-minute token life is documented for
   * schedules/Pix/boleto and applied to single TED by analogy.
   */
  token_ttl_ms: number
  /**
   * [INFERRED] Page 004 documents a validation attempt limit (TED000082, resend refused once exceeded) but not its
   * value: 5 failed validations (counted across resends), as documented for schedules/Pix.
   */
  max_attempts: number
  /** [INFERRED] Whether validating an expired token uses up an attempt is undocumented. */
  expired_counts_as_attempt: boolean
  /** [INFERRED] The code answered by the wrong try that uses the last attempt (the TED is rejected either way). */
  final_attempt_code: 'TED000082' | 'TED000084'
  /** [DOC 004] TED000086 is 404 on the single-TED resend page; [DOC-other] 400 on the schedule pages. */
  invalid_status_http: 400 | 404
  /**
   * Resends fail with [DOC 004] TED000087 "Error Sending Token" (400) when on. [INFERRED] No token is issued and
   * the TED is left as it was (its current token stays valid); the body carries extra_fields.ted_data like page
   * 004's 4xx example. Off by default (a test switch: QI fails to send).
   */
  resend_token_error: boolean
  /** Partner configuration: a right token answers 201 "sent", or 202 "pending" and settles later. */
  approval_outcome: 'sent' | 'pending'
  /** [INFERRED] How long a "pending" TED takes to become "sent" (then a webhook is sent). */
  settle_delay_ms: number
  /** [INFERRED] Whether an unapproved TED ever ends on its own is undocumented: null keeps it pending_2fa_approval forever; a number rejects it that long after creation. */
  abandoned_after_ms: number | null
  /** Default webhook receiver for integrations registered without their own webhook_url. */
  webhook_url: string | null
  /** [INFERRED] BaaS webhook timeout/retry policy is not public: one attempt, this timeout, no retries. */
  webhook_timeout_ms: number
  /** Not a QI fact, a test switch: forges signed answers so a client's verification can be tested. */
  response_tamper: ResponseTamper | null
  /**
   * [INFERRED] The content type line of a v1 answer's signature: QI's pages show `application/json`;
   * QI's Node sample never checks it, so a client must not depend on it ('' signs an empty line).
   */
  v1_answer_content_type: 'application/json' | ''
}

export type ResponseTamper = 'signature' | 'wrong_uri' | 'wrong_method' | 'stale' | 'api_key' | 'api_key_header'

export const DEFAULT_SETTINGS: QiSettings = {
  response_signing: 'header',
  timestamp_tolerance_ms: 5 * 60_000,
  signature_clock: 'wall',
  signed_uri_query: 'excluded',
  answer_signed_uri: 'path',
  empty_payload_md5_of: ['{}', ''],
  clock_offset_ms: 0,
  webhook_md5_form: 'raw',
  webhook_signed_uri: 'path',
  create_http_status: 202,
  duplicate_request_control_key: 'conflict',
  invalid_uuid_code: 'TED000046',
  insufficient_balance_code: 'TED000014',
  fee_amount: 0,
  ted_window_check: false,
  ted_window: { weekdays: [1, 2, 3, 4, 5], start: '07:00', end: '17:00', utc_offset_minutes: -180 },
  token_alphabet: '0123456789',
  fixed_token: null,
  token_ttl_ms: 5 * 60_000,
  max_attempts: 5,
  expired_counts_as_attempt: false,
  final_attempt_code: 'TED000082',
  invalid_status_http: 404,
  resend_token_error: false,
  approval_outcome: 'sent',
  settle_delay_ms: 200,
  abandoned_after_ms: null,
  webhook_url: null,
  webhook_timeout_ms: 2_000,
  response_tamper: null,
  v1_answer_content_type: 'application/json',
}

type Check = (value: unknown) => string | null

const oneOf =
  (...allowed: unknown[]): Check =>
  (v) =>
    allowed.includes(v) ? null : `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`
const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max
      ? null
      : `must be an integer in [${min}, ${max}]`
const bool: Check = (v) => (typeof v === 'boolean' ? null : 'must be a boolean')
const nullable =
  (check: Check): Check =>
  (v) =>
    v === null ? null : check(v)
const nonEmptyString: Check = (v) => (typeof v === 'string' && v.length > 0 ? null : 'must be a non-empty string')
const httpUrl: Check = (v) => {
  try {
    return ['http:', 'https:'].includes(new URL(v as string).protocol) ? null : 'must be an http(s) URL'
  } catch {
    return 'must be an http(s) URL'
  }
}
const hhmm = /^([01]\d|2[0-3]):[0-5]\d$/
const tedWindow: Check = (v) => {
  const w = v as Partial<TedWindow> | null
  if (!w || typeof w !== 'object') return 'must be an object'
  if (!Array.isArray(w.weekdays) || !w.weekdays.every((d) => Number.isInteger(d) && d >= 0 && d <= 6))
    return 'weekdays must be integers 0-6'
  if (typeof w.start !== 'string' || !hhmm.test(w.start) || typeof w.end !== 'string' || !hhmm.test(w.end))
    return 'start and end must be "HH:MM"'
  if (int(-720, 840)(w.utc_offset_minutes)) return 'utc_offset_minutes must be an integer in [-720, 840]'
  return null
}

const CHECKS: { [K in keyof QiSettings]: Check } = {
  response_signing: oneOf('none', 'header', 'encoded_body', 'by_scheme'),
  timestamp_tolerance_ms: int(0),
  signature_clock: oneOf('wall', 'sandbox'),
  signed_uri_query: oneOf('excluded', 'included', 'either'),
  answer_signed_uri: oneOf('path', 'path_and_query'),
  empty_payload_md5_of: (v) =>
    Array.isArray(v) && v.every((s) => typeof s === 'string') ? null : 'must be an array of strings',
  clock_offset_ms: int(-(10 * 365 * 86_400_000), 10 * 365 * 86_400_000),
  webhook_md5_form: oneOf('raw', 'json_dumps'),
  webhook_signed_uri: oneOf('path', 'full_url'),
  create_http_status: oneOf(200, 201, 202),
  duplicate_request_control_key: oneOf('conflict', 'return_existing'),
  invalid_uuid_code: oneOf('TED000046', 'QIT000001'),
  insufficient_balance_code: nonEmptyString,
  fee_amount: (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'must be a number >= 0'),
  ted_window_check: bool,
  ted_window: tedWindow,
  token_alphabet: nonEmptyString,
  fixed_token: nullable((v) => (typeof v === 'string' && v.length === 6 ? null : 'must be a 6-character string')),
  token_ttl_ms: int(1),
  max_attempts: int(1, 100),
  expired_counts_as_attempt: bool,
  final_attempt_code: oneOf('TED000082', 'TED000084'),
  invalid_status_http: oneOf(400, 404),
  resend_token_error: bool,
  approval_outcome: oneOf('sent', 'pending'),
  settle_delay_ms: int(0, 600_000),
  abandoned_after_ms: nullable(int(1)),
  webhook_url: nullable(httpUrl),
  webhook_timeout_ms: int(1, 60_000),
  response_tamper: nullable(oneOf('signature', 'wrong_uri', 'wrong_method', 'stale', 'api_key', 'api_key_header')),
  v1_answer_content_type: oneOf('application/json', ''),
}

/** Field → message for every problem in a partial settings object (unknown keys included); empty when valid. */
export const settingsErrors = (patch: unknown): Record<string, string> => {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return { settings: 'must be an object' }
  const errors: Record<string, string> = {}
  for (const [key, value] of Object.entries(patch)) {
    const check = CHECKS[key as keyof QiSettings]
    const problem = check ? check(value) : 'unknown setting'
    if (problem) errors[key] = problem
  }
  return errors
}

/** A fresh, mutable settings object (defaults + overrides); throws on invalid overrides. */
export const createSettings = (overrides: Partial<QiSettings> = {}): QiSettings => {
  const errors = settingsErrors(overrides)
  if (Object.keys(errors).length) throw new Error(`invalid QI sandbox settings: ${JSON.stringify(errors)}`)
  return structuredClone({ ...DEFAULT_SETTINGS, ...overrides })
}
