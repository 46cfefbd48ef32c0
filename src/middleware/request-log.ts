import { createMiddleware } from 'hono/factory'
import { log } from '../lib/log'
import { requestPoint, writeMetric } from '../lib/metrics'
import type { AppEnv } from './app-env'

/** One structured line and one metrics point per request: no bodies, no headers, nothing secret. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = Date.now()
  c.set('log', { upstreamMs: 0 })
  await next()
  const timing = c.get('log')
  const durationMs = Date.now() - started
  writeMetric(
    c.env?.METRICS,
    requestPoint({
      partnerId: timing.partnerId ?? null,
      mode: c.get('partner')?.mode ?? null,
      method: c.req.method,
      route: c.req.routePath,
      provider: timing.provider ?? null,
      providerErrorKind: timing.providerErrorKind ?? null,
      status: c.res.status,
      durationMs,
      upstreamMs: timing.upstreamMs,
    }),
    (pending) => c.executionCtx.waitUntil(pending),
  )
  log.write(c.res.status >= 500 ? 'error' : 'info', 'request', {
    request_id: c.get('requestId'),
    method: c.req.method,
    route: c.req.routePath,
    path: c.req.path,
    status: c.res.status,
    duration_ms: durationMs,
    upstream_ms: timing.upstreamMs,
    partner_id: timing.partnerId ?? null,
    ...(timing.adminToken
      ? { admin_token: timing.adminToken.fingerprint, admin_token_slot: timing.adminToken.slot }
      : {}),
  })
})
