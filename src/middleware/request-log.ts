import { createMiddleware } from 'hono/factory'
import { log } from '../lib/log'
import type { AppEnv } from './app-env'

/** One structured line per request: no bodies, no headers, nothing secret. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now()
  c.set('log', { upstreamMs: 0 })
  await next()
  const timing = c.get('log')
  log.write(c.res.status >= 500 ? 'error' : 'info', 'request', {
    request_id: c.get('requestId'),
    method: c.req.method,
    route: c.req.routePath,
    path: c.req.path,
    status: c.res.status,
    duration_ms: Date.now() - started,
    upstream_ms: timing.upstreamMs,
    partner_id: timing.partnerId ?? null,
    ...(timing.adminToken
      ? { admin_token: timing.adminToken.fingerprint, admin_token_slot: timing.adminToken.slot }
      : {}),
  })
})
