import type { Clock } from '../shared/clock'
import type { KeyPairPem } from './keys'
import type { QiSettings } from './settings'

/** Everything the sandbox remembers: one plain-JSON `IntegrationState` per API-CLIENT-KEY, in a `QiStore`. */

export type Integration = {
  api_client_key: string
  public_key_pem: string
  webhook_url: string | null
  account_keys: string[]
}

/** `balance: null` means unlimited and untracked. */
export type Account = { account_key: string; api_client_key: string; balance: number | null }

export type TedStatus = 'pending_2fa_approval' | 'pending' | 'sent' | 'rejected' | 'returned'
export type ContactType = 'sms' | 'email' | 'device'

export type TargetAccount = {
  account_branch: string
  account_digit: string
  account_number: string
  owner_document_number: string
  owner_name: string
  account_type: string
  ispb: string
}

export type RefusalReason = { refusal_code: number; enumerator: string; description: string } | Record<string, never>

export type Ted = {
  seq: number
  ted_key: string
  request_control_key: string
  account_key: string
  api_client_key: string
  created_ms: number
  created_at: string
  ted_status: TedStatus
  transaction_amount: number
  fee_amount: number
  target_account: TargetAccount
  refusal_reason: RefusalReason
  transaction_key: string | null
  /** Amount taken from the account's balance, given back once if the TED is rejected or returned. */
  debited: number
  tfa: {
    approver_document_number: string
    contact_type: ContactType
    session_id: string | null
    /** The only valid token (a resend replaces it); null for device approval. */
    token: string | null
    expires_ms: number
    /** Failed validations, counted across resends. */
    attempts: number
  }
  /**
   * Wall-clock ms when a TED approved as "pending" becomes "sent" (`settle_delay_ms` after approval); null
   * when no settlement is due. Applied lazily by `advanceDue` whenever the state is loaded.
   */
  settle_at: number | null
}

export type TokenRecord = {
  ted_key: string
  token: string
  contact_type: ContactType
  sent_at: string
  expires_at: string
  reason: 'created' | 'resend'
}

export type WebhookTamper =
  | 'signature'
  | 'payload_md5'
  | 'stale_timestamp'
  | 'wrong_uri'
  | 'wrong_method'
  | 'api_client_key'

export type WebhookRecord = {
  id: string
  ted_key: string
  api_client_key: string
  ted_status: TedStatus
  url: string | null
  tamper: WebhookTamper | null
  sent_at: string
  /** Exactly what was POSTed. */
  headers: Record<string, string>
  body: string
  /** The receiver's answer: null while in flight or when it never answered (see `error`). */
  status: number | null
  response_body: string | null
  error: string | null
}

/**
 * One integration's whole state: plain JSON (Records, arrays, primitives), so a store can keep it as a row.
 * Keys of the Records come from clients (account keys, request_control_keys): read and write them with
 * `getOwn`/`setOwn`, never `record[key]` (a key like "constructor" or "__proto__" must stay plain data).
 */
export type IntegrationState = {
  integration: Integration
  /** account_key → the integration's own accounts (their order is `integration.account_keys`). */
  accounts: Record<string, Account>
  /** ted_key → TED */
  teds: Record<string, Ted>
  /** request_control_key → ted_key */
  tedsByControlKey: Record<string, string>
  /** Oldest first (routes answer newest first); `seq` orders them across integrations. */
  tokens: Sequenced<TokenRecord>[]
  /** In sending order; `seq` orders them across integrations. */
  webhooks: Sequenced<WebhookRecord>[]
}

/** A record with its place in the sandbox-wide order (`QiStore.nextSeq`); routes answer without `seq`. */
export type Sequenced<T> = T & { seq: number }

export const withoutSeq = <T>({ seq: _seq, ...record }: Sequenced<T>): T => record as T

export const newIntegrationState = (integration: Integration): IntegrationState => ({
  integration,
  accounts: {},
  teds: {},
  tedsByControlKey: {},
  tokens: [],
  webhooks: [],
})

export const getOwn = <T>(record: Record<string, T>, key: string): T | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined

export const setOwn = <T>(record: Record<string, T>, key: string, value: T): void => {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Where integration states live. `load` and `save` move one integration's whole state; the in-memory store
 * (store.ts) is the Node sandbox's, a database row per integration would do as well.
 */
export type QiStore = {
  load: (apiClientKey: string) => IntegrationState | undefined
  save: (apiClientKey: string, state: IntegrationState) => void
  /** Every integration's API-CLIENT-KEY, in registration order. */
  keys: () => string[]
  /** The next number of the sandbox-wide order of TEDs, tokens and webhooks (1, 2, …). */
  nextSeq: () => number
  /** Forgets everything (`POST /_sandbox/reset`). */
  clear: () => void
}

/** What every part of the sandbox works with. */
export type QiSandbox = {
  settings: QiSettings
  store: QiStore
  clock: Clock
  keys: KeyPairPem
  /**
   * Node only: wake-up timers that settle pending TEDs on time (effects.ts). Correctness never depends on
   * them: a due TED is settled whenever its integration's state is loaded.
   */
  timers: Set<ReturnType<typeof setTimeout>>
}

export const stopTimers = (sb: QiSandbox): void => {
  for (const timer of sb.timers) clearTimeout(timer)
  sb.timers.clear()
}

/**
 * "QI's clock" for signature timestamps, signed answers and webhooks and the freshness check of incoming
 * signatures: wall time or the sandbox clock (setting `signature_clock`), shifted by `clock_offset_ms`.
 */
export const signatureNow = (sb: QiSandbox): number =>
  (sb.settings.signature_clock === 'sandbox' ? sb.clock.now() : Date.now()) + sb.settings.clock_offset_ms

export type AuthScheme = 'v1' | 'v2'

export type QiEnv = {
  Variables: {
    integration: Integration
    /** The request payload: parsed JSON (v2) or the claims of encoded_body (v1); undefined when bodiless. */
    body: unknown
    scheme: AuthScheme | undefined
    /** The claims of the verified request signature (v2 claims, or v1's {sub, signature}), echoed by /test. */
    signed_claims: Record<string, unknown>
  }
}
