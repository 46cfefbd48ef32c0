import { createMiddleware } from 'hono/factory'
import { createDb } from '../../db/client'
import { ConfigError, settingsOf, type Settings } from '../env'
import { providerRegistry } from '../providers/registry'
import { Problem } from './problem'
import type { AppEnv } from './types'

const settingsOrProblem = (env: AppEnv['Bindings']): Settings => {
  try {
    return settingsOf(env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(JSON.stringify({ level: 'error', msg: error.message }))
    throw new Problem('service_unavailable', { detail: 'The gateway is not configured correctly.' })
  }
}

/** Per-request services: settings, a DB client (Workers forbid sharing I/O objects) and providers. */
export const withDeps = createMiddleware<AppEnv>(async (c, next) => {
  const settings = settingsOrProblem(c.env)
  c.set('deps', {
    db: createDb(settings.LIBSQL_URL, settings.LIBSQL_AUTH_TOKEN),
    settings,
    now: Date.now,
    providerFor: providerRegistry(settings, (ms) => {
      c.var.log.upstreamMs += ms
    }),
    defer: (task) =>
      c.executionCtx.waitUntil(
        task.catch((error: unknown) =>
          console.error(JSON.stringify({ level: 'error', msg: 'background task failed', error: String(error) })),
        ),
      ),
  })
  await next()
})
