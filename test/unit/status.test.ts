import { describe, expect, it } from 'vitest'
import {
  canTransition,
  eventTypesFor,
  isOpen,
  isTerminal,
  TRANSFER_STATUSES,
  type TransferStatus,
} from '../../src/rules/transfer-states'

describe('transfer state machine', () => {
  it('allows exactly the documented transitions', () => {
    const allowed = TRANSFER_STATUSES.flatMap((from) =>
      TRANSFER_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`),
    )
    expect(allowed.sort()).toEqual(
      [
        'submitting->pending_verification',
        'submitting->processing',
        'submitting->completed',
        'submitting->failed',
        'submitting->canceled',
        'pending_verification->processing',
        'pending_verification->completed',
        'pending_verification->failed',
        'pending_verification->canceled',
        'pending_verification->expired',
        'pending_verification->returned',
        'processing->completed',
        'processing->failed',
        'processing->returned',
        'completed->returned',
      ].sort(),
    )
  })

  it('never moves backwards or out of a terminal state', () => {
    expect(canTransition('completed', 'processing')).toBe(false)
    expect(canTransition('completed', 'pending_verification')).toBe(false)
    expect(canTransition('processing', 'pending_verification')).toBe(false)
    for (const terminal of ['failed', 'canceled', 'expired', 'returned'] as TransferStatus[]) {
      expect(isTerminal(terminal)).toBe(true)
      for (const to of TRANSFER_STATUSES) expect(canTransition(terminal, to)).toBe(false)
    }
  })

  it('refuses self-transitions (a duplicate answer is not a change)', () => {
    for (const s of TRANSFER_STATUSES) expect(canTransition(s, s)).toBe(false)
  })

  it('knows which transfers are still open', () => {
    expect(TRANSFER_STATUSES.filter(isOpen)).toEqual(['submitting', 'pending_verification', 'processing'])
    expect(isTerminal('completed')).toBe(false)
  })
})

describe('events of a status change', () => {
  it('announces creation, and the status when a transfer is born past verification', () => {
    expect(eventTypesFor('submitting', 'pending_verification')).toEqual(['transfer.created'])
    expect(eventTypesFor('submitting', 'completed')).toEqual(['transfer.created', 'transfer.completed'])
    expect(eventTypesFor('pending_verification', 'completed')).toEqual(['transfer.completed'])
    expect(eventTypesFor('completed', 'returned')).toEqual(['transfer.returned'])
    expect(eventTypesFor('processing', 'processing')).toEqual([])
  })
})
