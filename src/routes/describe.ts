import type { z } from '@hono/zod-openapi'

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
