import { createMiddleware } from 'hono/factory'
import { buildDeps } from '../deps'
import { ConfigError } from '../env'
import { Problem } from './problem'
import type { AppEnv } from './types'

/** Per-request services (see src/deps.ts); a misconfigured deployment answers 503, not 500. */
export const withDeps = createMiddleware<AppEnv>(async (c, next) => {
  try {
    c.set('deps', buildDeps(c.env, c.executionCtx, (ms) => (c.var.log.upstreamMs += ms)))
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(JSON.stringify({ level: 'error', msg: error.message }))
    throw new Problem('service_unavailable', { detail: 'The gateway is not configured correctly.' })
  }
  await next()
})
