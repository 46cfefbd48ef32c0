import { describe, expect, it } from 'vitest'
import {
  decideConfirm,
  decideResend,
  nextResendAt,
  resendsRemaining,
  type VerificationState,
} from '../../src/rules/verification'

const base: VerificationState = {
  status: 'pending_verification',
  resendsUsed: 0,
  resendLimit: 3,
  resendCooldownMs: 60_000,
  codeSentAt: 1_000_000,
  attemptsRemaining: 5,
  expiresAt: 1_000_000 + 86_400_000,
}

describe('resend rules', () => {
  it('enforces the cooldown with a Retry-After rounded up', () => {
    expect(decideResend(base, 1_000_000 + 59_001)).toEqual({
      allowed: false,
      code: 'resend_cooldown',
      retryAfterSeconds: 1,
    })
    expect(decideResend(base, 1_000_000 + 30_000)).toEqual({
      allowed: false,
      code: 'resend_cooldown',
      retryAfterSeconds: 30,
    })
    expect(decideResend(base, 1_000_000 + 60_000)).toEqual({ allowed: true })
  })

  it('enforces the count, whatever the cooldown', () => {
    const used = { ...base, resendsUsed: 3 }
    const decision = decideResend(used, 1_000_000 + 3_600_000)
    expect(decision).toMatchObject({ allowed: false, code: 'resend_limit_reached' })
    expect(resendsRemaining(used)).toBe(0)
    expect(nextResendAt(used)).toBeNull()
  })

  it('a zero cooldown allows an immediate resend; a zero limit none', () => {
    expect(decideResend({ ...base, resendCooldownMs: 0 }, base.codeSentAt!)).toEqual({ allowed: true })
    expect(decideResend({ ...base, resendLimit: 0 }, base.codeSentAt! + 1e6)).toMatchObject({
      code: 'resend_limit_reached',
    })
  })

  it('refuses transfers that are not pending', () => {
    for (const status of ['completed', 'canceled', 'failed', 'submitting']) {
      expect(decideResend({ ...base, status }, 2e6)).toMatchObject({ code: 'transfer_not_pending_verification' })
      expect(nextResendAt({ ...base, status })).toBeNull()
    }
  })

  it('the next resend time is the last send plus the cooldown', () => {
    expect(nextResendAt(base)).toBe(1_060_000)
  })
})

describe('confirm rules', () => {
  it('needs a pending transfer with attempts left', () => {
    expect(decideConfirm(base, 2e6)).toEqual({ allowed: true })
    expect(decideConfirm(base, base.expiresAt!)).toMatchObject({ code: 'transfer_not_pending_verification' })
    expect(decideResend({ ...base, resendCooldownMs: 0 }, base.expiresAt! + 1)).toMatchObject({
      code: 'transfer_not_pending_verification',
    })
    expect(decideConfirm({ ...base, attemptsRemaining: 0 }, 2e6)).toMatchObject({
      code: 'verification_attempts_exhausted',
    })
    expect(decideConfirm({ ...base, attemptsRemaining: null }, 2e6)).toMatchObject({
      code: 'verification_attempts_exhausted',
    })
    expect(decideConfirm({ ...base, status: 'completed' }, 2e6)).toMatchObject({
      code: 'transfer_not_pending_verification',
    })
  })
})
