import { z } from '@hono/zod-openapi'
import { PROBLEMS, type ProblemCode } from '../lib/problem'

export const Timestamp = z.iso.datetime().openapi({ example: '2026-11-21T10:15:30.000Z' })

export const Metadata = z
  .record(z.string().min(1).max(40), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 50, 'metadata may have at most 50 keys')
  .openapi('Metadata', {
    description: "Up to 50 string key/value pairs for the partner's own use (keys ≤ 40, values ≤ 500 characters).",
    example: { order_id: 'ord_1234' },
  })

/** Test and live: every partner-owned object belongs to one, and a key sees only its own. */
export const MODES = ['test', 'live'] as const
export type Mode = (typeof MODES)[number]
export const ModeSchema = z.enum(MODES)

/** Every provider the gateway speaks to, as the API names them (src/providers/registry.ts holds their adapters). */
export const PROVIDERS = ['sfox', 'qi'] as const
export type ProviderName = (typeof PROVIDERS)[number]
export const ProviderNameSchema = z.enum(PROVIDERS)

const CODES = Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]]

export const ProblemCodeSchema = z.enum(CODES).openapi('ProblemCode', {
  description: `Stable, snake_case: branch on this. ${CODES.map((c) => `\`${c}\` (${PROBLEMS[c][0]})`).join(', ')}.`,
})

export const ProblemSchema = z
  .object({
    type: z.string().openapi({
      description: "A URI naming the problem: this deployment's `/problems/<code>` page (or `PROBLEM_TYPE_BASE`).",
    }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().openapi({ description: 'What happened, for people; do not parse it.' }),
    code: ProblemCodeSchema,
    request_id: z.string().nullable().openapi({ description: 'Also in the X-Request-Id header; quote it to support.' }),
    errors: z
      .array(
        z.object({
          field: z.string(),
          pointer: z.string(),
          code: z.string(),
          message: z.string(),
          file: z.string().optional(),
        }),
      )
      .optional()
      .openapi({ description: 'invalid_request: every failing field.' }),
    attempts_remaining: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Verification problems: confirm attempts left.' }),
    resends_remaining: z.number().int().optional().openapi({ description: 'Resend problems: resends left.' }),
    transfer_status: z
      .string()
      .optional()
      .openapi({ description: 'transfer_not_pending_verification: where the transfer is.' }),
    provider_error: z
      .object({
        provider: ProviderNameSchema,
        status: z.number().int().nullable(),
        code: z.string().nullable(),
        message: z.string(),
      })
      .optional()
      .openapi({ description: "The provider's own answer, when a provider was involved." }),
  })
  .catchall(z.unknown())
  .openapi('Problem', {
    description: 'RFC 9457 problem details (application/problem+json).',
    example: {
      type: 'https://gateway.example.com/problems/verification_code_invalid',
      title: 'Verification code invalid',
      status: 422,
      detail: 'The code is not the one that was sent.',
      code: 'verification_code_invalid',
      request_id: '6f1c2b0e-8f7e-4a5b-9c61-3d2e1f0a9b8c',
      attempts_remaining: 4,
      provider_error: { provider: 'sfox', status: 422, code: null, message: 'Invalid code.' },
    },
  })

export const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
})

export const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(10).openapi({ description: '1–100, default 10' }),
  starting_after: z.string().max(128).optional().openapi({
    description: 'Cursor: the id of the last object of the previous page; returns the objects after it (older).',
  }),
})

export const listOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() }).openapi(name)
