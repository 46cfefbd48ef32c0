import type { Clock } from '../shared/clock'
import type { KeyPairPem } from './keys'
import type { QiSettings } from './settings'

/** Everything the sandbox remembers, in memory; `createQiSandbox()` exposes it as `state` for tests. */

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

export type QiState = {
  integrations: Map<string, Integration>
  accounts: Map<string, Account>
  teds: Map<string, Ted>
  /** `${api_client_key} ${request_control_key}` → ted_key */
  tedsByControlKey: Map<string, string>
  /** Oldest first (routes answer newest first). */
  tokens: TokenRecord[]
  /** In sending order. */
  webhooks: WebhookRecord[]
  timers: Set<ReturnType<typeof setTimeout>>
  seq: number
}

export const createState = (): QiState => ({
  integrations: new Map(),
  accounts: new Map(),
  teds: new Map(),
  tedsByControlKey: new Map(),
  tokens: [],
  webhooks: [],
  timers: new Set(),
  seq: 0,
})

export const stopTimers = (state: QiState): void => {
  for (const timer of state.timers) clearTimeout(timer)
  state.timers.clear()
}

export const clearState = (state: QiState): void => {
  stopTimers(state)
  Object.assign(state, createState())
}

/** What every part of the sandbox works with. */
export type QiSandbox = {
  settings: QiSettings
  state: QiState
  clock: Clock
  keys: KeyPairPem
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
