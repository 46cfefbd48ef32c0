import type { Transfer } from '../../db/schema'
import type { TransferResourceData } from '../schemas/transfers'
import { nextResendAt, resendsRemaining, type VerificationState } from './limits'
import type { TransferStatus } from './status'

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

export const verificationStateOf = (
  t: Pick<Transfer, 'status' | 'resendsUsed' | 'resendLimit' | 'resendCooldownMs' | 'codeSentAt' | 'attemptsRemaining' | 'expiresAt'>,
): VerificationState => ({
  status: t.status,
  resendsUsed: t.resendsUsed,
  resendLimit: t.resendLimit,
  resendCooldownMs: t.resendCooldownMs,
  codeSentAt: t.codeSentAt,
  attemptsRemaining: t.attemptsRemaining,
  expiresAt: t.expiresAt,
})

/** The row as partners see it (and as callbacks carry it). */
export const renderTransfer = (t: Transfer): TransferResourceData => {
  const state = verificationStateOf(t)
  const required = t.attemptsRemaining !== null
  const pending = t.status === 'pending_verification'
  const next = nextResendAt(state)
  return {
    object: 'transfer',
    id: t.transferId,
    provider: t.provider,
    status: t.status as TransferStatus,
    provider_status: t.providerStatus,
    provider_reference: t.providerReference,
    [t.provider]: t.details,
    verification: {
      required,
      channel: t.verificationChannel,
      code_sent_at: iso(t.codeSentAt),
      code_expires_at: pending ? iso(t.codeExpiresAt) : null,
      expires_at: pending ? iso(t.expiresAt) : null,
      resends_used: t.resendsUsed,
      resends_remaining: required && pending ? resendsRemaining(state) : 0,
      next_resend_at: required && next !== null ? iso(Math.max(next, t.codeSentAt ?? 0)) : null,
      attempts_remaining: t.attemptsRemaining,
    },
    failure: t.failureCode ? { code: t.failureCode, message: t.failureMessage ?? t.failureCode } : null,
    metadata: t.metadata ?? {},
    created_at: iso(t.createdAt)!,
    updated_at: iso(t.updatedAt)!,
  } as TransferResourceData
}
