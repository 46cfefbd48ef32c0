import type { Transfer } from '../../db/schema'
import type { TransferStatus } from '../rules/transfer-states'

export type ProviderName = 'sfox' | 'qi'
export const PROVIDERS = ['sfox', 'qi'] as const satisfies readonly ProviderName[]

/** Every way a provider call can fail, in the gateway's words; routes map each to a problem code. */
export type ProviderErrorKind =
  | 'invalid_code'
  | 'expired_code'
  | 'attempts_exhausted'
  | 'not_pending'
  | 'not_found'
  | 'duplicate'
  | 'rejected'
  | 'unauthorized'
  | 'rate_limited'
  | 'unavailable'
  | 'timeout'

export type ProviderError = {
  kind: ProviderErrorKind
  provider: ProviderName
  /** The provider's HTTP status, when it answered. */
  status: number | null
  /** The provider's own error code (QI's TED000084...), when it has one. */
  code: string | null
  message: string
  retryAfterSeconds?: number
  /** The provider's view of the transfer when the error carried one (QI's extra_fields.ted_data). */
  snapshot?: ProviderSnapshot
}

/** The provider's view of a transfer, already in the gateway's unified vocabulary. */
export type ProviderSnapshot = {
  reference: string | null
  providerStatus: string
  /** null when the provider's status has no unified meaning yet (the gateway then keeps its own). */
  status: TransferStatus | null
  channel?: string | null
  codeExpiresAt?: number | null
  failure?: { code: string; message: string } | null
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ProviderError }

export const ok = <T>(value: T): Result<T> => ({ ok: true, value })
export const fail = <T>(error: ProviderError): Result<T> => ({ ok: false, error })

export type ResendReceipt = { channel: string | null; codeExpiresAt: number | null }

/**
 * The one interface the transfer operations use; each adapter hides its provider's wire format,
 * signing and status vocabulary behind it.
 */
export type TransferProvider = {
  name: ProviderName
  /**
   * What must be recorded before the create is sent, so a retry after a lost answer finds the same
   * transfer at the provider (sFOX: the id we send; QI: a fresh request_control_key).
   */
  prepare: (id: string) => { providerReference: string | null; providerState: Record<string, unknown> | null }
  /** `resumed`: an earlier attempt ended without an answer, so the provider may already have it. */
  create: (transfer: Transfer, attempt: { resumed: boolean }) => Promise<Result<ProviderSnapshot>>
  confirm: (transfer: Transfer, code: string) => Promise<Result<ProviderSnapshot>>
  resend: (transfer: Transfer, channel?: string) => Promise<Result<ResendReceipt>>
  /** `null` when the provider has no cancel: the gateway then cancels on its side only. */
  cancel: ((transfer: Transfer) => Promise<Result<ProviderSnapshot>>) | null
  fetchStatus: (transfer: Transfer) => Promise<Result<ProviderSnapshot>>
  /**
   * Several transfers at once, for the reconciler: a snapshot for each one found, `null` for each
   * the provider provably does not have; a transfer it could not tell about is left out. sFOX
   * answers with one history call (more when it is full); QI with one GET per TED.
   */
  fetchMany: (transfers: Transfer[]) => Promise<Result<Map<string, ProviderSnapshot | null>>>
  /** KYC documents, where the provider takes them (sFOX). */
  uploadDocuments?: (upload: DocumentUpload) => Promise<Result<{ message: string }>>
  /** Providers that push status (QI) prove their webhooks; the rest have none. */
  verifyWebhook?: (request: WebhookRequest) => Promise<{ ok: true } | { ok: false; reason: string }>
}

export type DocumentUpload = {
  userId: string
  ddqId: string | null
  files: File[]
  fileTypes: Record<string, string>
}

/** A sealed provider connection as loaded with the partner; credentials stay encrypted until used. */
export type SealedConnection = {
  id: string
  provider: ProviderName
  baseUrl: string
  credentials: string
  settings: Record<string, unknown>
}

export type WebhookRequest = { method: string; path: string; headers: Headers; body: string }

/** Provider outcomes that leave the create's result unknown: the transfer stays and a replay resumes. */
/**
 * Whether the provider may have acted on a request whose call failed: no answer in time, no answer
 * at all, or one that could not be trusted (a 2xx failing its signature check). A 5xx is the
 * provider's own word that it failed.
 */
export const outcomeUnknown = (error: ProviderError): boolean =>
  error.kind === 'timeout' || (error.kind === 'unavailable' && (error.status === null || error.status < 500))

export const isTransient = (kind: ProviderErrorKind): boolean =>
  kind === 'unavailable' || kind === 'timeout' || kind === 'rate_limited'
