/**
 * The unified transfer state machine: pure, shared by every entry point (partner calls, provider
 * webhooks, the reconciler). Any transition not listed is refused, so a late or duplicate provider
 * answer can never move a transfer backwards.
 *
 * `submitting` is the gateway's own first state: the transfer is recorded but the provider has not
 * yet given a definitive answer to the create (it timed out or failed); replaying the create, or the
 * reconciler, moves it on.
 */
export const TRANSFER_STATUSES = [
  'submitting',
  'pending_verification',
  'processing',
  'completed',
  'failed',
  'canceled',
  'expired',
  'returned',
] as const

export type TransferStatus = (typeof TRANSFER_STATUSES)[number]

const NEXT: Record<TransferStatus, readonly TransferStatus[]> = {
  submitting: ['pending_verification', 'processing', 'completed', 'failed', 'canceled'],
  // A return can be the first news of a TED whose `sent` never reached us.
  pending_verification: ['processing', 'completed', 'failed', 'canceled', 'expired', 'returned'],
  processing: ['completed', 'failed', 'returned'],
  completed: ['returned'],
  failed: [],
  canceled: [],
  expired: [],
  returned: [],
}

export const canTransition = (from: TransferStatus, to: TransferStatus): boolean => NEXT[from].includes(to)

export const isTerminal = (status: TransferStatus): boolean => NEXT[status].length === 0

/** Still waiting on someone (end user, provider or the gateway itself): reconciliation looks at these. */
export const isOpen = (status: TransferStatus): boolean =>
  status === 'submitting' || status === 'pending_verification' || status === 'processing'

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
