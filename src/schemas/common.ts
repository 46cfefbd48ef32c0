import { z } from '@hono/zod-openapi'

export const Timestamp = z.iso.datetime().openapi({ example: '2026-11-21T10:15:30.000Z' })

export const Metadata = z
  .record(z.string().min(1).max(40), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 50, 'metadata may have at most 50 keys')
  .openapi('Metadata', {
    description: 'Up to 50 string key/value pairs for the partner\'s own use (keys ≤ 40, values ≤ 500 characters).',
    example: { order_id: 'ord_1234' },
  })

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://transfer-gateway.dev/problems/transfer_not_found' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().openapi({ description: 'Stable, snake_case: branch on this.' }),
    request_id: z.string().nullable(),
  })
  .catchall(z.unknown())
  .openapi('Problem', { description: 'RFC 9457 problem details; extension members depend on `code`.' })

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
  z
    .object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean() })
    .openapi(name)
