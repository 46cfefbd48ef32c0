import { z } from 'zod'

/**
 * Behaviour knobs of the sFOX sandbox. Every value sFOX does not document is an assumption: it is a
 * setting (changeable at start or with `POST /_sandbox/settings`) and says [INFERRED] next to it.
 * Reference: /work/shared/providers/sfox.md.
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
  require_known_users_for_transfers: boolean
  ddq_max_file_bytes: number
  atx_status: { pending: number; processing: number; done: number; canceled: number }
  atx_settle_ms: number
  confirm_includes_transfer_date: boolean
}

export const defaultSettings = (): SfoxSettings => ({
  // [INFERRED] §5.2/§5.8: a new PAYMENT is PENDING; INITIATED (only seen in a validation message) may be a pre-email state.
  payment_initial_status: 'PENDING',
  // [INFERRED] §5.2: a PAYOUT "is processed straight away", so it answers COMPLETE. INITIATED keeps it in flight
  // (no OTP, not cancellable) until `POST /_sandbox/transfers/:id/status` finishes it.
  payout_initial_status: 'COMPLETE',
  // [INFERRED] §5.2: the create page shows no status code; 201 matches confirm and the user-token endpoints.
  create_status_code: 201,
  // [INFERRED] §10: quantity/rate are numbers in every example; numeric strings are accepted too (emitted as numbers).
  accept_numeric_strings: true,
  // [INFERRED] §5.2: transfer_id is "the idempotency key" but replay semantics and the error text are undocumented.
  // 'error' answers 422 to any reuse; 'return_existing' answers create_status_code with the stored transfer when the body is the same.
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
  // [INFERRED] a create of a type that is not enabled is refused (403, made-up text).
  enforce_transfer_permissions: true,
  // user_ids every account knows (for the ddq upload's 404 check), on top of `POST /_sandbox/users`.
  known_users_default: [],
  // [INFERRED] whether create checks the user_id exists (404 "user not found" as on the ddq page); off so any user_id works.
  require_known_users_for_transfers: false,
  // [DOC] §7.6: each file at most 10 MB. [INFERRED] MB = 1024 * 1024 bytes.
  ddq_max_file_bytes: 10 * 1024 * 1024,
  // [INFERRED] §5.9: sFOX publishes no meaning for atx codes. 1127 is in the confirm example, 1200 in history
  // examples of COMPLETE transfers, 1100 in withdraw initiation; the canceled code is made up.
  atx_status: { pending: 1100, processing: 1127, done: 1200, canceled: 1300 },
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
    require_known_users_for_transfers: z.boolean(),
    ddq_max_file_bytes: posInt,
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
