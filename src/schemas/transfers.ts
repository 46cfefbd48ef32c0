import { z } from '@hono/zod-openapi'
import type { Transfer } from '../../db/schema'
import { iso } from '../lib/time'
import { TRANSFER_STATUSES, type TransferStatus } from '../rules/transfer-states'
import { nextResendAt, resendsRemaining, verificationStateOf } from '../rules/verification'
import { ListQuery, listOf, Metadata, ProviderNameSchema, Timestamp } from './common'
import { PositiveDecimal } from './decimal'
import { EXAMPLES } from './examples'

export const TransferIdParam = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 characters of A–Z, a–z, 0–9, "_", ".", ":" or "-"')
  .refine((id) => !id.startsWith('tgw_'), 'must not start with "tgw_" (reserved for the gateway, e.g. test events)')
  .openapi({
    description: "The partner's id for the transfer; also its idempotency key. `tgw_…` is reserved.",
    example: 'order-1234',
  })

export const SfoxCreate = z
  .object({
    user_id: z.string().min(1).max(128).openapi({ description: 'The sFOX Connect end-user id.', example: 'user-42' }),
    type: z.enum(['PAYMENT', 'PAYOUT']).openapi({
      description: 'PAYMENT: end user to partner, confirmed by an emailed OTP. PAYOUT: partner to end user, immediate.',
    }),
    purpose: z.enum(['GOOD', 'SERVICE']),
    currency: z
      .string()
      .regex(/^[A-Za-z0-9]{2,12}$/, 'must be a currency code such as "eth" or "usd"')
      .transform((c) => c.toLowerCase())
      .openapi({ description: 'Any case accepted; returned lower-case, as sFOX does.', example: 'eth' }),
    quantity: PositiveDecimal,
    rate: PositiveDecimal.openapi({ description: 'USD rate of the currency (sFOX `rate`).', example: '2000' }),
    description: z.string().min(1).max(500).openapi({ example: 'Gift card payment' }),
  })
  .strict()
  .openapi('SfoxTransferDetails')

const digits = (min: number, max: number, what: string) =>
  z.string().regex(new RegExp(`^\\d{${min},${max}}$`), `must be ${what}`)

const DocumentNumber = z
  .string()
  .regex(/^(\d{11}|\d{14})$/, 'must be a CPF (11 digits) or CNPJ (14 digits), digits only')

export const ACCOUNT_TYPES = [
  'checking_account',
  'deposit_account',
  'guaranteed_account',
  'investment_account',
  'payment_account',
  'saving_account',
] as const

const QI_AMOUNT_MAX_LENGTH = 10

export const QiCreate = z
  .object({
    account_key: z.uuid().openapi({ description: 'The QI account to debit; must be one the partner may use.' }),
    amount: PositiveDecimal.refine((a) => !/\.\d{3,}$/.test(a), 'must have at most 2 decimal places')
      // QI's page gives transaction_amount a "max length 10": refused here rather than as QI's "Schema Error".
      .refine(
        (a) => a.length <= QI_AMOUNT_MAX_LENGTH,
        "must be at most 10 characters (QI's limit), so at most 9999999.99",
      )
      .openapi({
        description: 'BRL, > 0, at most 2 decimal places and 10 characters (up to 9999999.99). Returned as a string.',
        example: '150.25',
      }),
    target_account: z
      .object({
        account_branch: digits(4, 4, 'exactly 4 digits'),
        account_digit: z.string().regex(/^[0-9Xx]$/, 'must be one digit (or X)'),
        account_number: digits(1, 20, '1–20 digits'),
        owner_document_number: DocumentNumber,
        owner_name: z.string().trim().min(1).max(50),
        account_type: z.enum(ACCOUNT_TYPES),
        ispb: digits(8, 8, 'the 8-digit ISPB of the receiving institution'),
      })
      .strict()
      .openapi('QiTargetAccount'),
    approver_document_number: DocumentNumber.openapi({
      description: "CPF of the account's movement approver, who receives the token.",
    }),
    contact_type: z.enum(['sms', 'email']).openapi({ description: 'Where QI sends the 2FA token.' }),
  })
  .strict()
  .openapi('QiTransferDetails')

export const CreateTransferBody = z
  .discriminatedUnion('provider', [
    z
      .object({
        transfer_id: TransferIdParam,
        provider: z.literal('sfox'),
        sfox: SfoxCreate,
        metadata: Metadata.optional(),
      })
      .strict()
      .openapi('CreateSfoxTransfer', { example: EXAMPLES.createSfox }),
    z
      .object({ transfer_id: TransferIdParam, provider: z.literal('qi'), qi: QiCreate, metadata: Metadata.optional() })
      .strict()
      .openapi('CreateQiTransfer', { example: EXAMPLES.createQi }),
  ])
  .openapi('CreateTransfer')

export type CreateTransferInput = z.infer<typeof CreateTransferBody>

export const ConfirmBody = z
  .object({
    code: z
      .string()
      .regex(/^[A-Za-z0-9]{4,12}$/, 'must be the 4–12 character code the end user received')
      .openapi({
        description: 'The OTP / 2FA token the end user received. Forwarded, never stored.',
        example: '123456',
      }),
  })
  .strict()
  .openapi('ConfirmTransfer')

export const ResendBody = z
  .object({
    channel: z
      .enum(['sms', 'email'])
      .optional()
      .openapi({ description: 'QI only: where to send the new token; defaults to the original channel.' }),
  })
  .strict()
  .openapi('ResendCode')

const Verification = z
  .object({
    required: z.boolean(),
    channel: z.string().nullable().openapi({ description: 'Where the code was sent: email or sms.' }),
    code_sent_at: Timestamp.nullable(),
    code_expires_at: Timestamp.nullable().openapi({
      description: 'When the current code stops working, where the provider says.',
    }),
    expires_at: Timestamp.nullable().openapi({
      description:
        'When the transfer expires unless confirmed (the pending window counts from its creation); null once it is no longer pending.',
    }),
    resends_used: z.number().int(),
    resends_remaining: z.number().int(),
    next_resend_at: Timestamp.nullable().openapi({
      description: 'Earliest time of the next resend; null when none is left.',
    }),
    attempts_remaining: z.number().int().nullable(),
  })
  .openapi('Verification')

const SfoxDetails = z
  .object({
    user_id: z.string(),
    type: z.enum(['PAYMENT', 'PAYOUT']),
    purpose: z.enum(['GOOD', 'SERVICE']),
    currency: z.string(),
    quantity: z.string(),
    rate: z.string(),
    description: z.string(),
  })
  .openapi('SfoxDetails')

const QiDetails = z
  .object({
    account_key: z.string(),
    amount: z.string(),
    target_account: z.object({
      account_branch: z.string(),
      account_digit: z.string(),
      account_number: z.string(),
      owner_document_number: z.string(),
      owner_name: z.string(),
      account_type: z.enum(ACCOUNT_TYPES),
      ispb: z.string(),
    }),
    approver_document_number: z.string(),
    contact_type: z.enum(['sms', 'email']),
  })
  .openapi('QiDetails')

export const TransferResource = z
  .object({
    object: z.literal('transfer'),
    id: z.string().openapi({ description: "The partner's transfer_id." }),
    livemode: z
      .boolean()
      .openapi({ description: 'false in test mode, true in live mode: the mode of the key that made it.' }),
    provider: ProviderNameSchema,
    status: z.enum(TRANSFER_STATUSES),
    provider_status: z.string().nullable(),
    provider_reference: z.string().nullable(),
    sfox: SfoxDetails.optional().openapi({ description: 'Present when provider is sfox.' }),
    qi: QiDetails.optional().openapi({ description: 'Present when provider is qi.' }),
    verification: Verification,
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
    metadata: z.record(z.string(), z.string()),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi('Transfer', { example: EXAMPLES.transfer })

export type TransferResourceData = z.infer<typeof TransferResource>

export const TransferList = listOf(TransferResource, 'TransferList')

export const ListTransfersQuery = ListQuery.extend({
  status: z.enum(TRANSFER_STATUSES).optional(),
  provider: ProviderNameSchema.optional(),
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
    livemode: t.mode === 'live',
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

export const TestCodeResource = z
  .object({
    object: z.literal('test_code'),
    transfer_id: z.string(),
    livemode: z.literal(false),
    code: z.string().openapi({ description: 'What the end user would have received; never shown for live transfers.' }),
    channel: z.string().nullable(),
  })
  .openapi('TestCode')

export const renderTestCode = (t: Transfer, code: string): z.infer<typeof TestCodeResource> => ({
  object: 'test_code',
  transfer_id: t.transferId,
  livemode: false,
  code,
  channel: t.verificationChannel,
})
