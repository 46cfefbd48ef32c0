import type { Transfer } from '../../db/schema'
import type { Settings } from '../lib/settings'
import type { TransferStatus } from '../rules/transfer-states'
import { PROVIDERS, type ProviderName } from '../schemas/common'
import type { ProviderFetch } from './outbound'

export { PROVIDERS, type ProviderName }

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
  | 'permission_denied'
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
  /** The provider answered, but its answer failed our signature check: what it says cannot be believed. */
  untrusted?: true
  /** No answer came, after the provider had taken the whole request: it may have acted on it. */
  mayHaveTakenEffect?: true
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
  uploadDocuments?: (userId: string) => DocumentUpload
  /** Providers that push status (QI) prove their webhooks with the partner's keys; the rest have none. */
  verifyWebhook?: (request: WebhookRequest) => Promise<{ ok: true } | { ok: false; reason: string }>
  /**
   * Harmless authenticated calls that tell an operator whether the stored connection works, each
   * failed check saying what to fix; `learned` settings are stored with the connection.
   */
  checkConnection: () => Promise<ConnectionCheckOutcome>
  /** Provider-specific permissions on a create (QI: which accounts the partner may use); throws a Problem. */
  assertCreateAllowed?: (details: unknown) => void
  /** Present only when this adapter talks to the test-mode simulator. */
  simulator?: SimulatorControls
}

/** One check of a provider connection: never a credential in `detail`. */
export type ConnectionCheckItem = { name: string; ok: boolean; detail: string; duration_ms: number }
export type ConnectionCheckOutcome = { checks: ConnectionCheckItem[]; learned?: Record<string, unknown> }

/**
 * Static facts the gateway's rules and SQL need. `codeTtlMs` / `maxAttempts`: null when the provider
 * documents none. `gatewaySideCancel`: the provider has no cancel, so the gateway ends transfers on
 * its side, never while a confirm is on its way.
 */
export type ProviderFacts = {
  codeTtlMs: number | null
  maxAttempts: number | null
  channels: readonly string[]
  gatewaySideCancel: boolean
}

/**
 * What a pushed webhook claims, read before anything is trusted: the transfer it names (by the
 * provider's reference, or by a key the adapter stored in provider_state before the create, for a
 * create whose answer was lost) and, if it carries one, the status it reports.
 */
export type WebhookNotice = {
  lookup: { reference?: string; stateKey?: { name: string; value: string } }
  snapshot: ((current: TransferStatus) => ProviderSnapshot) | null
}

/** A partner's connection to a provider, decrypted: what an adapter is built from. */
export type OpenConnection = { baseUrl: string; credentials: Record<string, string>; settings: Record<string, unknown> }

export type AdapterOptions = {
  timeoutMs: number
  uploadTimeoutMs: number
  historyMaxRows: number
  /** How far a provider-signed timestamp may be from our clock. */
  signatureToleranceMs: number
  /** The facts in force (settings applied): a code's lifetime and the attempts it allows. */
  facts: ProviderFacts
  onTiming: (ms: number) => void
  /** Sends the adapter's calls instead of the global fetch (the simulator's service binding). */
  fetch?: ProviderFetch
}

/** How a test transfer ends when a partner drives it (test mode's simulator only). */
export const SIMULATED_OUTCOMES = ['complete', 'fail', 'return'] as const
export type SimulatedOutcome = (typeof SIMULATED_OUTCOMES)[number]

/** What the simulator lets a test-mode partner do that a real provider never would. */
export type SimulatorControls = {
  /** The live verification code the simulated provider sent, or null when it has none. */
  readCode: (transfer: Transfer) => Promise<Result<string | null>>
  /** Moves the simulated transfer to the outcome; the gateway then reads it like any status. */
  settle: (transfer: Transfer, outcome: SimulatedOutcome) => Promise<Result<void>>
}

/** Everything the gateway knows of one provider: its facts, how to connect, how to read its webhooks. */
export type ProviderModule = {
  name: ProviderName
  facts: ProviderFacts
  /** Facts the provider's pages leave open, taken from the deployment's settings instead. */
  factsFromSettings?: (settings: Settings) => Partial<ProviderFacts>
  connect: (connection: OpenConnection, options: AdapterOptions) => TransferProvider
  /** Providers that push status parse their webhook bodies here; null when the body is not one. */
  readWebhook?: (body: string) => WebhookNotice | null
  /** The test-only controls of this provider's simulator (its control routes). */
  simulatorControls: (connection: OpenConnection, options: AdapterOptions) => SimulatorControls
}

/** A streamed upload's files: a chunk naming a file (and its declared type) starts it, its bytes follow. */
export type DocumentChunk = { file: string; contentType: string } | Uint8Array

/** KYC documents sent while they arrive, so the gateway never holds a whole submission. */
export type DocumentUpload = {
  /**
   * Each file in turn: a chunk naming a file starts it, its bytes follow. Resolves once the provider
   * has room for more (a little is queued toward it), so memory stays flat while it is slower than the client.
   */
  write: (chunk: DocumentChunk) => Promise<void>
  /**
   * Ends the body with what follows the files, known once the whole submission has arrived and passed
   * its checks; null abandons the upload: the provider is left an unfinished body and records nothing.
   */
  end: (rest: { fileTypes: Record<string, string>; ddqId: string | null } | null) => void
  /** The provider's answer: once the body has ended, or before when it refuses early (an outage, a refusal). */
  result: Promise<Result<{ message: string }>>
}

/** A sealed provider connection as loaded with the partner; credentials stay encrypted until used. */
export type SealedConnection = {
  id: string
  provider: ProviderName
  baseUrl: string
  credentials: string
  settings: Record<string, unknown>
}

/** A pushed webhook as received: `path` is the route's, `url` the full URL it was posted to. */
export type WebhookRequest = { method: string; path: string; url: string; headers: Headers; body: string }

/**
 * Whether the provider may have acted on a request whose call failed: no answer in time, no answer
 * at all, one that could not be trusted (a 2xx failing its signature check), or a 5xx other than
 * 503 (a 500 may come from a crash half-way, a 502 or 504 from a proxy after the provider did the
 * work: the soak saw QI send a fourth and fifth token that way). A 4xx or a 503 is the provider's
 * own word that it did not (QI's TED000087 "Error Sending Token": no token went out).
 */
export const outcomeUnknown = (error: ProviderError): boolean =>
  error.kind === 'timeout' ||
  (error.kind === 'unavailable' &&
    (error.status === null || error.status < 400 || (error.status >= 500 && error.status !== 503)))

export const isTransient = (kind: ProviderErrorKind): boolean =>
  kind === 'unavailable' || kind === 'timeout' || kind === 'rate_limited'
