import { qiFail, schemaFail } from './errors'
import type { QiSettings } from './settings'
import type { ContactType, TargetAccount } from './state'

/**
 * Request schemas of the TED routes (reference §4), failing with QIT000001 and marshmallow-style
 * messages per dotted field path (QI is a Python service; its schema errors read like marshmallow's).
 */

type Errors = Record<string, string[]>
type Obj = Record<string, unknown>

const MISSING = 'Missing data for required field.'
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i

export const isUuid4 = (value: string): boolean => UUID4.test(value)

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Any UUID in its 36-character hyphenated form (what marshmallow's fields.UUID accepts as a path value). */
export const isUuid = (value: string): boolean => UUID.test(value)

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)

const add = (errors: Errors, path: string, message: string) => {
  ;(errors[path] ??= []).push(message)
}

type StringRule = {
  max?: number
  pattern?: RegExp
  patternMessage?: string
  oneOf?: readonly string[]
  optional?: boolean
}

const str = (obj: Obj, key: string, path: string, errors: Errors, rule: StringRule = {}): string => {
  const value = obj[key]
  if (value === undefined || value === null) {
    if (!rule.optional) add(errors, path, MISSING)
    return ''
  }
  if (typeof value !== 'string') {
    add(errors, path, 'Not a valid string.')
    return ''
  }
  if (rule.oneOf && !rule.oneOf.includes(value)) add(errors, path, `Must be one of: ${rule.oneOf.join(', ')}.`)
  if (rule.max !== undefined && value.length > rule.max) add(errors, path, `Longer than maximum length ${rule.max}.`)
  if (rule.pattern && !rule.pattern.test(value))
    add(errors, path, rule.patternMessage ?? 'String does not match expected pattern.')
  return value
}

const nested = (obj: Obj, key: string, errors: Errors, optional = false): Obj | undefined => {
  const value = obj[key]
  if (value === undefined || value === null) {
    if (!optional) add(errors, key, MISSING)
    return undefined
  }
  if (!isObject(value)) {
    add(errors, key, 'Invalid input type.')
    return undefined
  }
  return value
}

const bodyObject = (body: unknown): Obj => {
  if (body === undefined) return {}
  return isObject(body) ? body : schemaFail({ _schema: ['Invalid input type.'] })
}

export const ACCOUNT_TYPES = [
  'checking_account',
  'deposit_account',
  'guaranteed_account',
  'investment_account',
  'payment_account',
  'saving_account',
] as const

const CONTACT_TYPES = ['sms', 'email', 'device'] as const

export type CreateTedInput = {
  request_control_key: string
  target_account: TargetAccount
  transaction_amount: number
  tfa_info: { approver_document_number: string; contact_type: ContactType; session_id: string | null }
}

const targetAccount = (obj: Obj, errors: Errors): TargetAccount => {
  const p = (k: string) => `target_account.${k}`
  const digits = { pattern: /^\d+$/, patternMessage: 'Must contain only digits.' }
  return {
    account_branch: str(obj, 'account_branch', p('account_branch'), errors, { max: 4, ...digits }),
    account_digit: str(obj, 'account_digit', p('account_digit'), errors, {
      max: 1,
      pattern: /^[0-9xX]$/,
      patternMessage: 'Must be one digit or X.',
    }),
    account_number: str(obj, 'account_number', p('account_number'), errors, { max: 20, ...digits }),
    owner_document_number: str(obj, 'owner_document_number', p('owner_document_number'), errors, {
      max: 14,
      pattern: /^(\d{11}|\d{14})$/,
      patternMessage: 'Must be a CPF (11 digits) or CNPJ (14 digits), digits only.',
    }),
    owner_name: str(obj, 'owner_name', p('owner_name'), errors, {
      max: 50,
      pattern: /\S/,
      patternMessage: 'Must not be blank.',
    }),
    account_type: str(obj, 'account_type', p('account_type'), errors, { oneOf: ACCOUNT_TYPES }),
    ispb: str(obj, 'ispb', p('ispb'), errors, { pattern: /^\d{8}$/, patternMessage: 'Must be 8 digits.' }),
  }
}

const amount = (obj: Obj, errors: Errors): number => {
  const value = obj.transaction_amount
  if (value === undefined || value === null) add(errors, 'transaction_amount', MISSING)
  else if (typeof value !== 'number' || !Number.isFinite(value))
    add(errors, 'transaction_amount', 'Not a valid number.')
  else if (value <= 0) add(errors, 'transaction_amount', 'Must be greater than 0.')
  else if (Math.round(value * 100) / 100 !== value)
    add(errors, 'transaction_amount', 'Must have at most 2 decimal places.')
  else if (String(value).length > 10) add(errors, 'transaction_amount', 'Longer than maximum length 10.')
  return typeof value === 'number' ? value : 0
}

/** `POST /account/{ak}/ted` body. */
export const parseCreateTed = (body: unknown, settings: QiSettings): CreateTedInput => {
  const obj = bodyObject(body)
  const errors: Errors = {}
  const request_control_key = str(obj, 'request_control_key', 'request_control_key', errors, { max: 36 })
  const target = nested(obj, 'target_account', errors)
  const target_account = targetAccount(target ?? {}, target ? errors : {})
  const transaction_amount = amount(obj, errors)
  const tfa = nested(obj, 'tfa_info', errors)
  const tfaErrors = tfa ? errors : {}
  const tfaObj = tfa ?? {}
  const contact_type = str(tfaObj, 'contact_type', 'tfa_info.contact_type', tfaErrors, {
    oneOf: CONTACT_TYPES,
  }) as ContactType
  const tfa_info = {
    approver_document_number: str(tfaObj, 'approver_document_number', 'tfa_info.approver_document_number', tfaErrors, {
      pattern: /^(\d{11}|\d{14})$/,
      patternMessage: 'Must be a CPF (11 digits) or CNPJ (14 digits), digits only.',
    }),
    contact_type,
    session_id:
      str(tfaObj, 'session_id', 'tfa_info.session_id', tfaErrors, {
        optional: contact_type !== 'device',
        pattern: UUID4,
        patternMessage: 'Not a valid UUID.',
      }) || null,
  }
  if (Object.keys(errors).length) schemaFail(errors)
  if (!isUuid4(request_control_key)) invalidUuid(settings, 'request_control_key')
  return { request_control_key, target_account, transaction_amount, tfa_info }
}

/** [INFERRED] A key that is not a uuid4: TED000046 or a schema error, per the `invalid_uuid_code` setting. */
export const invalidUuid = (settings: QiSettings, field: string): never =>
  settings.invalid_uuid_code === 'TED000046'
    ? qiFail('TED000046', { params: { field }, extra_fields: { field } })
    : schemaFail({ [field]: ['Not a valid UUID v4.'] })

/** `PUT .../validate_token` body: {"token": "<6 chars>"} for sms/email, {} (or nothing) for device. */
export const parseValidateToken = (body: unknown, contactType: ContactType): string | undefined => {
  const obj = bodyObject(body)
  if (contactType === 'device') return undefined
  const errors: Errors = {}
  const token = str(obj, 'token', 'token', errors)
  if (!errors.token && token.length !== 6) add(errors, 'token', 'Length must be 6.')
  if (Object.keys(errors).length) schemaFail(errors)
  return token
}

/** `PATCH .../resend_token` body: {"contact_type"?: "sms" | "email"}. */
export const parseResendToken = (body: unknown): 'sms' | 'email' | undefined => {
  const obj = bodyObject(body)
  const errors: Errors = {}
  const contactType = str(obj, 'contact_type', 'contact_type', errors, { optional: true, oneOf: ['sms', 'email'] })
  if (Object.keys(errors).length) schemaFail(errors)
  return (contactType || undefined) as 'sms' | 'email' | undefined
}

export type ListQuery = {
  ted_direction: 'incoming' | 'outgoing'
  request_control_key?: string
  date_from?: string
  date_to?: string
  page: number
  page_size: number
}

export const MAX_PAGE_SIZE = 30

const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`))

const positiveInt = (v: string | undefined, fallback: number): number =>
  v === undefined ? fallback : /^\d+$/.test(v) ? Number(v) : Number.NaN

/** `GET /account/{ak}/teds` query. */
export const parseListQuery = (query: Record<string, string>, settings: QiSettings): ListQuery => {
  const direction = query.ted_direction ?? 'outgoing'
  if (direction !== 'incoming' && direction !== 'outgoing')
    schemaFail({ ted_direction: ['Must be one of: incoming, outgoing.'] })
  const rck = query.request_control_key
  if (rck !== undefined && !isUuid4(rck)) invalidUuid(settings, 'request_control_key')
  for (const field of ['date_from', 'date_to'] as const) {
    const value = query[field]
    if (value !== undefined && !isDate(value)) qiFail('TED000044', { params: { field } })
  }
  const page = positiveInt(query.page, 1)
  const pageSize = positiveInt(query.page_size, MAX_PAGE_SIZE)
  if (!(page >= 1)) qiFail('TED000045', { params: { detail: 'page must be an integer >= 1' } })
  if (!(pageSize >= 1 && pageSize <= MAX_PAGE_SIZE))
    qiFail('TED000045', { params: { detail: `page_size must be an integer between 1 and ${MAX_PAGE_SIZE}` } })
  return {
    ted_direction: direction as 'incoming' | 'outgoing',
    request_control_key: rck,
    date_from: query.date_from,
    date_to: query.date_to,
    page,
    page_size: pageSize,
  }
}
