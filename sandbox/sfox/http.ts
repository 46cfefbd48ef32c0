import type { Context, MiddlewareHandler } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { sfoxErrors } from './errors'

/** sFOX's only error envelope (§4). */
export const fail = (c: Context, status: ContentfulStatusCode, error: string) => c.json({ error }, status)

export type JsonObject = Record<string, unknown>

/**
 * Reads a JSON object body. An empty body reads as `{}` so the field checks answer (422);
 * text that is not a JSON object is a malformed request (400, §4).
 */
export const readJsonObject = async (
  c: Context,
): Promise<{ ok: true; body: JsonObject } | { ok: false; response: Response }> => {
  const text = await c.req.text()
  if (text.trim() === '') return { ok: true, body: {} }
  try {
    const value: unknown = JSON.parse(text)
    if (value && typeof value === 'object' && !Array.isArray(value)) return { ok: true, body: value as JsonObject }
  } catch {
    // falls through to the 400
  }
  return { ok: false, response: fail(c, 400, sfoxErrors.malformedBody) }
}

const jsonRanges = new Set(['application/json', 'application/*', '*/*'])

/** §4: 406 when the client asks for a format other than JSON. No Accept header means anything goes. */
export const requireJsonAccept: MiddlewareHandler = async (c, next) => {
  const accept = c.req.header('accept')
  if (!accept) return next()
  const ranges = accept.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase())
  if (ranges.some((range) => jsonRanges.has(range))) return next()
  return fail(c, 406, sfoxErrors.notAcceptable)
}

export const methodNotAllowed = (c: Context) => fail(c, 405, sfoxErrors.methodNotAllowed)
