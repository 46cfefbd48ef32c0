import type { Transfer } from '../../db/schema'
import { Problem } from '../lib/problem'

// The refusals every transfer verb shares, worded once.

export const transferNotFound = (transferId: string) =>
  new Problem('transfer_not_found', { detail: `No transfer with id "${transferId}".` })

/** Refused because the transfer is no longer waiting for a code; says where it is instead. */
export const notPending = (
  t: Pick<Transfer, 'status' | 'expiresAt'>,
  now: number,
  extensions: Record<string, unknown> = {},
) => {
  const lapsed = t.status === 'pending_verification' && t.expiresAt !== null && t.expiresAt <= now
  return new Problem('transfer_not_pending_verification', {
    detail: lapsed
      ? 'The transfer waited for verification too long and is expiring; it no longer accepts codes.'
      : `The transfer is ${t.status}; it no longer accepts verification codes.`,
    extensions: { ...extensions, transfer_status: lapsed ? 'expired' : t.status },
  })
}

/** Another request for this transfer is still with the provider. */
export const inFlight = (detail: string) =>
  new Problem('transfer_in_flight', { detail, headers: { 'retry-after': '1' } })
