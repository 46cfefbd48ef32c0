import type { TransferStatus } from '../../rules/transfer-states'
import { genericHttpError } from '../outbound'
import type { ProviderError, ProviderSnapshot } from '../provider'

/** sFOX's transfer object (§5.1 of the reference notes); only what the gateway reads. */
export type SfoxTransfer = {
  transfer_id: string
  transfer_status_code: string
  type?: string
}

/**
 * sFOX documents PENDING, COMPLETE and CANCELED (one L), and INITIATED in a validation message.
 * A PAYMENT waits for the end user's OTP; a PAYOUT never does, so a pending PAYOUT is processing.
 */
export const unifiedStatus = (code: string, type: string | undefined): TransferStatus | null => {
  switch (code.toUpperCase()) {
    case 'PENDING':
    case 'INITIATED':
      return type?.toUpperCase() === 'PAYOUT' ? 'processing' : 'pending_verification'
    case 'COMPLETE':
      return 'completed'
    case 'CANCELED':
    case 'CANCELLED':
      return 'canceled'
    default:
      return null
  }
}

export const snapshotOf = (t: SfoxTransfer): ProviderSnapshot => ({
  reference: t.transfer_id,
  providerStatus: t.transfer_status_code,
  status: unifiedStatus(t.transfer_status_code, t.type),
  channel: 'email',
  codeExpiresAt: null,
})

const NOT_PENDING = 'Funds transfer is not pending verification.'
// The key is fine; the account lacks sFOX's enterprise transfer permission (Create Transfer page).
const NO_TRANSFER_PERMISSION = 'Partner transfer permission not granted.'
const NOT_FOUND = /^Transfer with transfer_id .+ not found\.$/
const ALREADY_EXISTS = /already exists/i
// Both the documented "Code expired. Request a new code for this transfer." and a code burned by too
// many wrong tries tell the user to request a new code: to the partner, both mean "resend".
const NEEDS_NEW_CODE = /request a new code/i

export type SfoxOperation = 'create' | 'confirm' | 'resend' | 'cancel' | 'history' | 'upload'

/**
 * sFOX errors carry only `{"error": "<text>"}`, so the text is the code. sFOX documents no
 * wrong-OTP message; on confirm, any other 422 is taken as a wrong code.
 */
export const errorOf = (operation: SfoxOperation, status: number, body: unknown): ProviderError => {
  const message =
    body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string'
      ? (body as { error: string }).error
      : `sFOX answered HTTP ${status}`
  const base = { provider: 'sfox' as const, status, code: null, message }
  // Document upload: 404 {"error": "user not found"} names the end user, not the endpoint.
  if (operation === 'upload' && status === 404 && /user not found/i.test(message)) return { ...base, kind: 'not_found' }
  if (status === 403 && message === NO_TRANSFER_PERMISSION) return { ...base, kind: 'permission_denied' }
  if (status === 422) {
    if (message === NOT_PENDING) return { ...base, kind: 'not_pending' }
    if (NOT_FOUND.test(message)) return { ...base, kind: 'not_found' }
    if (operation === 'create' && ALREADY_EXISTS.test(message)) return { ...base, kind: 'duplicate' }
    if (operation === 'confirm')
      return { ...base, kind: NEEDS_NEW_CODE.test(message) ? 'expired_code' : 'invalid_code' }
    return { ...base, kind: 'rejected' }
  }
  return genericHttpError('sfox', status, message) ?? { ...base, kind: 'rejected' }
}
