import { z } from 'zod'

/**
 * Behaviour knobs of the sFOX sandbox. Every value sFOX does not document is an assumption: it is a
 * setting (changeable at start or with `POST /_sandbox/settings`) and says [INFERRED] next to it.
 * Primary sources: sFOX's own pages in /work/shared/providers/source-docs/ ("page 000" Resend Confirmation
 * Code, "page 001"/"page 003" Create Transfer, "page 002" Submit Documents); they win over the summary
 * /work/shared/providers/sfox.md (cited as §n). [DOC] = stated on a page, [DOC-EX] = in a page's example only.
 */
export type TransferType = 'PAYMENT' | 'PAYOUT'
export type Permissions = Record<TransferType, boolean>

export type SfoxSettings = {
  payment_initial_status: 'PENDING' | 'INITIATED'
  payout_initial_status: 'COMPLETE' | 'INITIATED'
  create_status_code: 201 | 200
  accept_numeric_strings: boolean
  duplicate_transfer_id: 'error' | 'return_existing'
  otp_length: number
  otp_ttl_ms: number
  otp_max_attempts: number
  fixed_otp: string | null
  resend_cooldown_ms: number
  resend_invalidates_previous_code: boolean
  rate_limit: { enabled: boolean; max_requests: number; window_ms: number; lockout_ms: number }
  history_default_window_months: number
  history_max_rows: number
  permissions_default: Permissions
  enforce_transfer_permissions: boolean
  known_users_default: string[]
  every_user_known: boolean
  require_known_users_for_transfers: boolean
  ddq_max_file_bytes: number | null
  ddq_extensions_case_sensitive: boolean
  missing_transfer_permission_refuses: 'create' | 'transfer_routes'
  atx_status: { pending: number; processing: number; done: number; canceled: number }
  atx_settle_ms: number
  confirm_includes_transfer_date: boolean
}

export const defaultSettings = (): SfoxSettings => ({
  // [DOC] page 001/003: "Payment transfers will be created in a pending state"; [DOC-EX] the 201 example of a
  // PAYMENT reads "transfer_status_code": "PENDING". INITIATED (only in a history validation message, §5.7)
  // is an [INFERRED] alternative.
  payment_initial_status: 'PENDING',
  // [DOC] page 001/003: "Payout transfers will be created and processed immediately". [INFERRED] the status value
  // COMPLETE (the page shows no PAYOUT example). INITIATED keeps it in flight (no OTP, not cancellable) until
  // `POST /_sandbox/transfers/:id/status` finishes it.
  payout_initial_status: 'COMPLETE',
  // [DOC] page 001/003: "201 Created". 200 is kept only as a what-if for clients; it is not sFOX's answer.
  create_status_code: 201,
  // [INFERRED] §10: quantity/rate are numbers in every example; numeric strings are accepted too (emitted as numbers).
  accept_numeric_strings: true,
  // [DOC] page 001/003: a "Duplicate request" answers 422 {"error": "A transaction with the same transfer_id already
  // exists."} ('error' mode). [INFERRED] 'return_existing' (answer create_status_code with the stored transfer when
  // the body is the same, 422 otherwise) is a what-if for the word "idempotency ID"; the page shows no replay.
  duplicate_transfer_id: 'error',
  // [INFERRED] §9: transfer OTP length is not stated; withdrawal/onboarding codes are 6 digits and the example is "123456".
  otp_length: 6,
  // [INFERRED] §9: codes expire (the error string exists) but the lifetime is undocumented.
  otp_ttl_ms: 600_000,
  // [INFERRED] §9: wrong tries before the code is burned (the transfer stays pending until a resend).
  otp_max_attempts: 5,
  // [INFERRED] sandbox convenience: a fixed code for every email; null = random digits.
  fixed_otp: null,
  // [INFERRED] §5.4/§9: resend limits are undocumented; 0 = no cool-down.
  resend_cooldown_ms: 0,
  // [INFERRED] §5.4: a resend invalidates the earlier code. When false, earlier codes keep working until
  // their own expiry (wrong tries still count against the newest code only).
  resend_invalidates_previous_code: true,
  // [DOC] §3: 250 requests / 10 s per IP, then 429 and a 60 s lock-out.
  // [INFERRED] sliding window; rejected requests do not count; the lock-out is not extended by requests made during it.
  rate_limit: { enabled: true, max_requests: 250, window_ms: 10_000, lockout_ms: 60_000 },
  // [DOC] §5.7: history defaults to the last 3 months. [INFERRED] calendar months back from to_date (or now).
  history_default_window_months: 3,
  // [DOC] §5.7: at most 25,000 rows per response (the newest ones).
  history_max_rows: 25_000,
  // [INFERRED] §5.6: sFOX enables PAYMENT/PAYOUT per partner; both on unless an account says otherwise.
  permissions_default: { PAYMENT: true, PAYOUT: true },
  // Whether permissions are enforced at all: the account-wide transfer permission (`POST /_sandbox/permissions`
  // {"transfer_permission": false}) and the per-type PAYMENT/PAYOUT switches. Both refusals answer page 001's
  // 403 {"error": "Partner transfer permission not granted."} [DOC]; [INFERRED] that a disabled type gets the same text.
  enforce_transfer_permissions: true,
  // [INFERRED] page 001 documents the 403 for create only. 'transfer_routes': an account without the transfer
  // permission is also refused on confirm, resend-confirmation, cancel and history (Get Transfer Permissions and
  // GET /v1/user/balance still answer 200); 'create': only create is refused.
  missing_transfer_permission_refuses: 'transfer_routes',
  // user_ids every account knows (for the ddq upload's 404 check), on top of `POST /_sandbox/users`.
  known_users_default: [],
  // [SANDBOX] every user_id is known (the test-mode simulator: a partner has no way to onboard users there).
  every_user_known: false,
  // [INFERRED] whether create checks the user_id exists (404 "user not found" as on the ddq page); off so any user_id works.
  require_known_users_for_transfers: false,
  // [INFERRED] page 002 (Submit Documents) states NO size limit; §7.6 quotes 10 MB from a legacy page.
  // null = no limit (default). A number refuses any file larger than that many bytes (422, made-up text);
  // 10485760 reproduces the summary's 10 MB.
  ddq_max_file_bytes: null,
  // [DOC] page 002: "File extension must be one of jpg, jpeg, png, pdf." [INFERRED] the page is silent on case:
  // true (default) accepts exactly those lowercase spellings, so "ID.PNG" is refused; false ignores case.
  ddq_extensions_case_sensitive: true,
  // §5.9: sFOX publishes no meaning for atx codes. [DOC-EX] page 001/003: the 201 example of a PENDING PAYMENT has
  // both legs at 1127 (pending); the confirm example (§5.3) has 1127 on a just-completed transfer (processing);
  // history examples of COMPLETE transfers have "1200" (done). [INFERRED] the canceled code 1300 is made up, and
  // an in-flight (INITIATED) transfer shows the pending code.
  atx_status: { pending: 1127, processing: 1127, done: 1200, canceled: 1300 },
  // [INFERRED] how long a COMPLETE transfer's legs stay `processing` (1127) before history shows `done` (1200).
  // Create/confirm always answer with `processing`, as in the confirm example.
  atx_settle_ms: 0,
  // [INFERRED] §5.1: the field table lists transfer_date but the confirm example leaves it out.
  confirm_includes_transfer_date: true,
})

const nonNegInt = z.int().min(0)
const posInt = z.int().min(1)

const patchSchema = z
  .object({
    payment_initial_status: z.enum(['PENDING', 'INITIATED']),
    payout_initial_status: z.enum(['COMPLETE', 'INITIATED']),
    create_status_code: z.union([z.literal(201), z.literal(200)]),
    accept_numeric_strings: z.boolean(),
    duplicate_transfer_id: z.enum(['error', 'return_existing']),
    otp_length: z.int().min(1).max(32),
    otp_ttl_ms: nonNegInt,
    otp_max_attempts: posInt,
    fixed_otp: z.string().regex(/^\d+$/, 'fixed_otp must be digits').nullable(),
    resend_cooldown_ms: nonNegInt,
    resend_invalidates_previous_code: z.boolean(),
    rate_limit: z
      .object({ enabled: z.boolean(), max_requests: posInt, window_ms: posInt, lockout_ms: nonNegInt })
      .partial()
      .strict(),
    history_default_window_months: posInt,
    history_max_rows: posInt,
    permissions_default: z.object({ PAYMENT: z.boolean(), PAYOUT: z.boolean() }).partial().strict(),
    enforce_transfer_permissions: z.boolean(),
    known_users_default: z.array(z.string().min(1)),
    every_user_known: z.boolean(),
    require_known_users_for_transfers: z.boolean(),
    ddq_max_file_bytes: posInt.nullable(),
    ddq_extensions_case_sensitive: z.boolean(),
    missing_transfer_permission_refuses: z.enum(['create', 'transfer_routes']),
    atx_status: z
      .object({ pending: z.int(), processing: z.int(), done: z.int(), canceled: z.int() })
      .partial()
      .strict(),
    atx_settle_ms: nonNegInt,
    confirm_includes_transfer_date: z.boolean(),
  })
  .partial()
  .strict()

export type SettingsPatch = z.infer<typeof patchSchema>

/** Validates a partial settings object; returns an error text or the parsed patch. */
export const parseSettingsPatch = (
  input: unknown,
): { ok: true; patch: SettingsPatch } | { ok: false; error: string } => {
  const parsed = patchSchema.safeParse(input ?? {})
  if (parsed.success) return { ok: true, patch: parsed.data }
  const issue = parsed.error.issues[0]!
  const path = issue.path.join('.')
  return { ok: false, error: path ? `${path}: ${issue.message}` : issue.message }
}

/** Merges in place (nested objects one level deep) so references handed out earlier stay current. */
export const applySettingsPatch = (settings: SfoxSettings, patch: SettingsPatch): SfoxSettings => {
  const { rate_limit, permissions_default, atx_status, ...flat } = patch
  Object.assign(settings, flat)
  if (rate_limit) settings.rate_limit = { ...settings.rate_limit, ...rate_limit }
  if (permissions_default) settings.permissions_default = { ...settings.permissions_default, ...permissions_default }
  if (atx_status) settings.atx_status = { ...settings.atx_status, ...atx_status }
  return settings
}

/** Resets `settings` in place to defaults plus `patch` (used by `POST /_sandbox/reset`). */
export const restoreSettings = (settings: SfoxSettings, patch: SettingsPatch): SfoxSettings => {
  for (const key of Object.keys(settings)) delete (settings as Record<string, unknown>)[key]
  Object.assign(settings, defaultSettings())
  return applySettingsPatch(settings, patch)
}
