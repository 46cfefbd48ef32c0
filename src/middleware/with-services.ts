import { createMiddleware } from 'hono/factory'
import { flushOutcomesSoon, queueOutcome } from '../audit/audit-log'
import { buildServices } from '../build-services'
import { log } from '../lib/log'
import { Problem } from '../lib/problem'
import { ConfigError } from '../lib/settings'
import type { AppEnv } from './app-env'
import { auditTrailOf } from './audit'

/**
 * Per-request services (see src/services.ts); a misconfigured deployment answers 503, not 500. An
 * audited request's entry rides with each of its writes; its outcome, known after the answer, rides
 * with the next write in the isolate or goes with the isolate's next flush, within a second (src/audit/audit-log.ts).
 */
export const withServices = createMiddleware<AppEnv>(async (c, next) => {
  const audit = auditTrailOf(c, Date.now)
  c.set('audit', audit)
  try {
    c.set(
      'services',
      buildServices(c.env, c.executionCtx, {
        onTiming: (ms) => (c.get('log').upstreamMs += ms),
        companion: audit.companion,
        onProviderCall: (provider, failureKind) =>
          Object.assign(c.get('log'), { provider, providerErrorKind: failureKind ?? undefined }),
      }),
    )
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    log.error(error.message)
    throw new Problem('service_unavailable', { detail: 'The gateway is not configured correctly.' })
  }
  await next()
  const outcome = await audit.finish()
  if (outcome) {
    queueOutcome(outcome)
    const services = c.get('services')
    services.defer(flushOutcomesSoon(services.db))
  }
})
