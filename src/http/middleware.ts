import { bodyLimit } from 'hono/body-limit'
import { createMiddleware } from 'hono/factory'
import { Problem } from './problem'
import type { AppEnv } from './types'

/** One structured line per request: no bodies, no headers, nothing secret. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now()
  c.set('log', { upstreamMs: 0 })
  await next()
  const log = c.get('log')
  console.log(
    JSON.stringify({
      level: c.res.status >= 500 ? 'error' : 'info',
      msg: 'request',
      request_id: c.get('requestId'),
      method: c.req.method,
      route: c.req.routePath,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Date.now() - started,
      upstream_ms: log.upstreamMs,
      partner_id: log.partnerId ?? null,
    }),
  )
})

/** Bodies over the limit are refused before they are read in full. */
export const limitBody = (maxBytes: number) =>
  bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new Problem('payload_too_large', { detail: `Request bodies are limited to ${maxBytes} bytes.` })
    },
  })

const hasBody = (req: Request) =>
  req.headers.get('transfer-encoding') !== null || Number(req.headers.get('content-length') ?? '0') > 0

/** A JSON API: a request with a body must say it is JSON (a form post is refused, not half-read). */
export const requireJson = createMiddleware<AppEnv>(async (c, next) => {
  if (hasBody(c.req.raw)) {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    if (type !== 'application/json' && !/^application\/[\w.-]+\+json$/.test(type)) {
      throw new Problem('unsupported_media_type', {
        detail: 'Send the request body as application/json.',
      })
    }
  }
  await next()
})
