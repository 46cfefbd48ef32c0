import type { TransferStatus } from '../../rules/transfer-states'
import { genericHttpError } from '../outbound'
import type { ProviderError, ProviderErrorKind, ProviderSnapshot } from '../provider'

/** A TED as QI returns it (create, validate, resend, GET, webhook `data`); only what the gateway reads. */
export type QiTed = {
  request_control_key?: string
  ted_key?: string
  ted_status?: string
  refusal_reason?: { refusal_code?: number; enumerator?: string; description?: string } | Record<string, never>
}

/** A trusted answer: its body (decoded when QI sent it encoded), headers, and whether QI signed it. */
export type QiAnswer = { status: number; body: unknown; headers: Headers; signed: boolean }

/** QI's error envelope (reference §3). */
export type QiErrorBody = {
  title?: string
  description?: string
  translation?: string
  code?: string
  extra_fields?: { ted_data?: QiTed }
}

/**
 * pending_2fa_approval → pending_verification, pending → processing, sent → completed,
 * rejected → failed, returned → returned. A `rejected` after `sent` means the receiving bank sent
 * the money back (reference §4.1), so for a completed transfer it is a return.
 */
export const unifiedStatus = (tedStatus: string | undefined, current?: TransferStatus): TransferStatus | null => {
  switch (tedStatus) {
    case 'pending_2fa_approval':
      return 'pending_verification'
    case 'pending':
      return 'processing'
    case 'sent':
      return 'completed'
    case 'rejected':
      return current === 'completed' ? 'returned' : 'failed'
    case 'returned':
      return 'returned'
    default:
      return null
  }
}

const refusalOf = (ted: QiTed) => {
  const reason = ted.refusal_reason as { enumerator?: string; description?: string } | undefined
  return reason?.enumerator ? { code: reason.enumerator, message: reason.description ?? reason.enumerator } : null
}

export const snapshotOf = (ted: QiTed, current?: TransferStatus): ProviderSnapshot => ({
  reference: ted.ted_key ?? null,
  providerStatus: ted.ted_status ?? 'unknown',
  status: unifiedStatus(ted.ted_status, current),
  failure: ted.ted_status === 'rejected' || ted.ted_status === 'returned' ? refusalOf(ted) : null,
})

const KINDS: Record<string, ProviderErrorKind> = {
  TED000084: 'invalid_code',
  TED000083: 'expired_code',
  TED000082: 'attempts_exhausted',
  TED000086: 'not_pending',
  TED000020: 'not_found',
  TED000009: 'rejected',
  TED000018: 'rejected',
  TED000006: 'rejected',
  TED000011: 'rejected',
  QIT000001: 'rejected',
  GDF000003: 'unauthorized',
  GDF000014: 'unauthorized',
  GDF000018: 'unauthorized',
  QIT000500: 'unavailable',
  TED000085: 'unavailable',
  TED000087: 'unavailable',
}

/** QI's codes are the contract (its texts may change): map by code, keep code and description. */
export const errorOf = (status: number, body: unknown): ProviderError => {
  const envelope = (body && typeof body === 'object' ? body : {}) as QiErrorBody
  const code = typeof envelope.code === 'string' ? envelope.code : null
  const message = envelope.description ?? envelope.title ?? `QI answered HTTP ${status}`
  const ted = envelope.extra_fields?.ted_data
  const snapshot = ted?.ted_status ? snapshotOf(ted) : undefined
  const base = { provider: 'qi' as const, status, code, message, ...(snapshot ? { snapshot } : {}) }
  const kind = code ? KINDS[code] : undefined
  if (kind) return { ...base, kind }
  if (status === 409) return { ...base, kind: 'duplicate' }
  return genericHttpError('qi', status, message, code) ?? { ...base, kind: 'rejected' }
}
