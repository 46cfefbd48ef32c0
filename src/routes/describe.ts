import { z } from '@hono/zod-openapi'
import { ModeSchema, problemResponse } from '../schemas/common'

// The small pieces every route description repeats.

export const partnerSecurity = [{ ApiKey: [] }]
export const adminSecurity = [{ AdminToken: [] }]

/** A JSON response of `schema`. */
export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

/** A JSON request body of `schema`; optional bodies may be absent (then `{}`). */
export const jsonBody = <T extends z.ZodType>(schema: T, required = true) => ({
  body: { required, content: { 'application/json': { schema } } },
})

/** The answers every admin route may give besides its own. */
export const adminErrors = {
  401: problemResponse('Missing or wrong admin token.'),
  404: problemResponse('No such partner (`partner_not_found`).'),
  422: problemResponse('Invalid request.'),
}

export const partnerParams = z.object({ partner_id: z.string().openapi({ param: { name: 'partner_id', in: 'path' } }) })

/** `?mode=test|live`: which of a partner's two worlds an admin call acts on (required where it writes). */
export const modeQuery = z.object({
  mode: ModeSchema.openapi({
    param: { name: 'mode', in: 'query' },
    description: 'test or live: the partner keeps one connection per provider in each, never shared.',
  }),
})
export const optionalModeQuery = z.object({
  mode: ModeSchema.optional().openapi({ param: { name: 'mode', in: 'query' } }),
})
