import { sfoxErrors } from './errors'
import type { JsonObject } from './http'
import type { TransferType } from './settings'
import { type TransferInput, type TransferStatus, transferStatuses } from './state'

type Result<T> = { ok: true; value: T } | { ok: false; error: string }

const purposes = ['GOOD', 'SERVICE'] as const
const types = ['PAYMENT', 'PAYOUT'] as const

// [INFERRED] §10: numbers or numeric strings are accepted (decimal notation only, no hex or "Infinity").
const numericText = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/

const toNumber = (value: unknown, acceptStrings: boolean): number | null => {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (acceptStrings && typeof value === 'string' && numericText.test(value.trim())) return Number(value.trim())
  return null
}

/**
 * §5.2: all 8 fields are required. [INFERRED] checked one field at a time in the documented order;
 * an empty string counts as missing; enums are case-sensitive; quantity and rate must be > 0;
 * currency is lower-cased as in every response example.
 */
export const validateCreate = (body: JsonObject, { acceptNumericStrings = true } = {}): Result<TransferInput> => {
  const text: Record<string, string> = {}
  for (const field of ['transfer_id', 'description', 'purpose', 'type', 'user_id', 'currency'] as const) {
    const value = body[field]
    if (value === undefined || value === null || value === '') return { ok: false, error: sfoxErrors.required(field) }
    if (typeof value !== 'string') return { ok: false, error: sfoxErrors.mustBeString(field) }
    if (field === 'purpose' && !(purposes as readonly string[]).includes(value))
      return { ok: false, error: sfoxErrors.purposeEnum }
    if (field === 'type' && !(types as readonly string[]).includes(value))
      return { ok: false, error: sfoxErrors.typeEnum }
    text[field] = value
  }
  const numbers: Record<string, number> = {}
  for (const field of ['quantity', 'rate'] as const) {
    const value = body[field]
    if (value === undefined || value === null || value === '') return { ok: false, error: sfoxErrors.required(field) }
    const number = toNumber(value, acceptNumericStrings)
    if (number === null) return { ok: false, error: sfoxErrors.mustBeNumber(field) }
    if (number <= 0) return { ok: false, error: sfoxErrors.mustBePositive(field) }
    numbers[field] = number
  }
  return {
    ok: true,
    value: {
      transfer_id: text.transfer_id!,
      description: text.description!,
      purpose: text.purpose as TransferInput['purpose'],
      type: text.type as TransferType,
      user_id: text.user_id!,
      currency: text.currency!.toLowerCase(),
      quantity: numbers.quantity!,
      rate: numbers.rate!,
    },
  }
}

/** [INFERRED] "the same body" for an idempotent replay: the same values after normalisation. */
export const sameTransferInput = (a: TransferInput, b: TransferInput) =>
  (['transfer_id', 'description', 'purpose', 'type', 'user_id', 'currency', 'quantity', 'rate'] as const).every(
    (key) => a[key] === b[key],
  )

/** confirm and resend bodies: `transfer_id` (and `otp`), strings. */
export const requireStrings = <K extends string>(body: JsonObject, fields: readonly K[]): Result<Record<K, string>> => {
  const out = {} as Record<K, string>
  for (const field of fields) {
    const value = body[field]
    if (value === undefined || value === null || value === '') return { ok: false, error: sfoxErrors.required(field) }
    // [INFERRED] §5.3 types otp as a string; a number (which would lose leading zeros) is refused.
    if (typeof value !== 'string') return { ok: false, error: sfoxErrors.mustBeString(field) }
    out[field] = value
  }
  return { ok: true, value: out }
}

export type HistoryQuery = {
  type?: TransferType
  purpose?: TransferInput['purpose']
  status?: TransferStatus
  from_date?: number
  to_date?: number
}

const msTimestamp = /^\d{1,16}$/

/**
 * §5.7 filters, sent as a query string ([INFERRED]/[3P]). [INFERRED] an empty value means "not given";
 * checks run in the order type, purpose, status, from_date, to_date.
 */
export const validateHistoryQuery = (query: Record<string, string>): Result<HistoryQuery> => {
  const out: HistoryQuery = {}
  const given = (name: string) => (query[name] ?? '') !== ''
  if (given('type')) {
    if (!(types as readonly string[]).includes(query.type!)) return { ok: false, error: sfoxErrors.typeEnum }
    out.type = query.type as TransferType
  }
  if (given('purpose')) {
    if (!(purposes as readonly string[]).includes(query.purpose!)) return { ok: false, error: sfoxErrors.purposeEnum }
    out.purpose = query.purpose as TransferInput['purpose']
  }
  if (given('status')) {
    // All four statuses are accepted although the documented message lists three (§5.7).
    if (!(transferStatuses as readonly string[]).includes(query.status!))
      return { ok: false, error: sfoxErrors.statusEnum }
    out.status = query.status as TransferStatus
  }
  for (const field of ['from_date', 'to_date'] as const) {
    if (!given(field)) continue
    if (!msTimestamp.test(query[field]!)) return { ok: false, error: sfoxErrors.invalidDate(field) }
    out[field] = Number(query[field])
  }
  return { ok: true, value: out }
}
