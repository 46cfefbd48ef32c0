import type { TransferStatus } from './status'

/**
 * Which events a status change announces. Leaving `submitting` is the transfer's birth as far as
 * partners know (`transfer.created`); if it is born already past verification (a PAYOUT completes
 * at once) the status event follows, so receivers that only listen for `transfer.completed` hear it.
 */
export const eventTypesFor = (previous: TransferStatus, next: TransferStatus): string[] => {
  if (previous === next) return []
  if (previous === 'submitting') {
    return next === 'pending_verification' ? ['transfer.created'] : ['transfer.created', `transfer.${next}`]
  }
  return [`transfer.${next}`]
}
