import { describe, expect, it } from 'vitest'
import { errorOf, unifiedStatus } from '../../src/providers/sfox/mapping'

describe('sFOX status mapping', () => {
  it('maps the documented status codes', () => {
    expect(unifiedStatus('PENDING', 'PAYMENT')).toBe('pending_verification')
    expect(unifiedStatus('INITIATED', 'PAYMENT')).toBe('pending_verification')
    expect(unifiedStatus('PENDING', 'PAYOUT')).toBe('processing')
    expect(unifiedStatus('COMPLETE', 'PAYMENT')).toBe('completed')
    expect(unifiedStatus('CANCELED', 'PAYMENT')).toBe('canceled')
    expect(unifiedStatus('SOMETHING_NEW', 'PAYMENT')).toBeNull()
  })
})

describe('sFOX error mapping', () => {
  const e = (op: Parameters<typeof errorOf>[0], status: number, error: string) => errorOf(op, status, { error })

  it('recognizes the documented 422 strings', () => {
    expect(e('confirm', 422, 'Code expired. Request a new code for this transfer.').kind).toBe('expired_code')
    expect(e('confirm', 422, 'Funds transfer is not pending verification.').kind).toBe('not_pending')
    expect(e('resend', 422, 'Transfer with transfer_id tr_1 not found.').kind).toBe('not_found')
    expect(e('cancel', 422, 'Funds transfer is not pending verification.').kind).toBe('not_pending')
  })

  it('treats other confirm 422s as a wrong code, and a burned code as needing a new one', () => {
    expect(e('confirm', 422, 'Invalid code.').kind).toBe('invalid_code')
    expect(e('confirm', 422, 'Too many invalid attempts. Request a new code for this transfer.').kind).toBe(
      'expired_code',
    )
  })

  it('recognizes a duplicate create and other refusals', () => {
    expect(e('create', 422, 'Transfer with transfer_id tr_1 already exists.').kind).toBe('duplicate')
    expect(e('create', 422, 'purpose must be one of the following: GOOD, SERVICE').kind).toBe('rejected')
  })

  it('maps transport-level statuses', () => {
    expect(e('create', 401, 'invalid token. check authorization header.').kind).toBe('unauthorized')
    expect(e('create', 429, 'Too many requests').kind).toBe('rate_limited')
    expect(e('create', 503, 'maintenance').kind).toBe('unavailable')
    expect(errorOf('create', 500, null)).toMatchObject({ kind: 'unavailable', message: 'sFOX answered HTTP 500' })
  })

  it("keeps sFOX's own message", () => {
    expect(e('confirm', 422, 'Invalid code.')).toMatchObject({
      provider: 'sfox',
      status: 422,
      message: 'Invalid code.',
    })
  })
})
