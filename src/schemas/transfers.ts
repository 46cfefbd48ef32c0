import { z } from '@hono/zod-openapi'
import { TRANSFER_STATUSES } from '../transfers/status'
import { ListQuery, Metadata, Timestamp, listOf } from './common'
import { PositiveDecimal } from './decimal'

export const TransferIdParam = z
  .string()
  .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 characters of A–Z, a–z, 0–9, "_", ".", ":" or "-"')
  .openapi({ description: "The partner's id for the transfer; also its idempotency key.", example: 'order-1234' })

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

export const CreateTransferBody = z
  .object({
    transfer_id: TransferIdParam,
    provider: z.literal('sfox'),
    sfox: SfoxCreate,
    metadata: Metadata.optional(),
  })
  .strict()
  .openapi('CreateTransfer')

export type CreateTransferInput = z.infer<typeof CreateTransferBody>

export const ConfirmBody = z
  .object({
    code: z
      .string()
      .regex(/^[A-Za-z0-9]{4,12}$/, 'must be the 4–12 character code the end user received')
      .openapi({ description: 'The OTP / 2FA token the end user received. Forwarded, never stored.', example: '123456' }),
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
    code_expires_at: Timestamp.nullable().openapi({ description: 'When the current code stops working, where the provider says.' }),
    resends_used: z.number().int(),
    resends_remaining: z.number().int(),
    next_resend_at: Timestamp.nullable().openapi({ description: 'Earliest time of the next resend; null when none is left.' }),
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

export const TransferResource = z
  .object({
    object: z.literal('transfer'),
    id: z.string().openapi({ description: "The partner's transfer_id." }),
    provider: z.enum(['sfox', 'qi']),
    status: z.enum(TRANSFER_STATUSES),
    provider_status: z.string().nullable(),
    provider_reference: z.string().nullable(),
    sfox: SfoxDetails.optional(),
    verification: Verification,
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
    metadata: z.record(z.string(), z.string()),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi('Transfer')

export type TransferResourceData = z.infer<typeof TransferResource>

export const TransferList = listOf(TransferResource, 'TransferList')

export const ListTransfersQuery = ListQuery.extend({
  status: z.enum(TRANSFER_STATUSES).optional(),
  provider: z.enum(['sfox', 'qi']).optional(),
})
