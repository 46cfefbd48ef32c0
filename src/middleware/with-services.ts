import { createMiddleware } from 'hono/factory'
import { buildServices } from '../build-services'
import { log } from '../lib/log'
import { Problem } from '../lib/problem'
import { ConfigError } from '../lib/settings'
import type { AppEnv } from './app-env'

/** Per-request services (see src/services.ts); a misconfigured deployment answers 503, not 500. */
export const withServices = createMiddleware<AppEnv>(async (c, next) => {
  try {
    c.set(
      'services',
      buildServices(c.env, c.executionCtx, (ms) => (c.var.log.upstreamMs += ms)),
    )
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    log.error(error.message)
    throw new Problem('service_unavailable', { detail: 'The gateway is not configured correctly.' })
  }
  await next()
})
