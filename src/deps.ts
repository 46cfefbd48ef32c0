import { createDb, type Db } from '../db/client'
import { enqueueDeliveries } from './callbacks/dispatch'
import { settingsOf, type Bindings } from './env'
import { providerRegistry } from './providers/registry'
import type { OperationDeps } from './transfers/operations'
import { describeError } from './lib/errors'

const logFailure = (what: string) => (error: unknown) =>
  console.error(JSON.stringify({ level: 'error', msg: `${what} failed`, error: describeError(error) }))

/**
 * The services every entry point (HTTP request, queue batch, cron run) gives the operations: parsed
 * settings, a database client of its own (Workers forbid sharing I/O objects across requests),
 * provider adapters, and a way to finish work after answering.
 */
export const buildDeps = (
  env: Bindings,
  ctx: Pick<ExecutionContext, 'waitUntil'>,
  onTiming: (ms: number) => void = () => {},
): OperationDeps => {
  const settings = settingsOf(env)
  const defer = (task: Promise<unknown>) => ctx.waitUntil(task.catch(logFailure('background task')))
  let db: Db | undefined
  return {
    // Made on first use: routes that never touch the database (health's liveness, 404s) skip it.
    get db() {
      return (db ??= createDb(settings.LIBSQL_URL, settings.LIBSQL_AUTH_TOKEN))
    },
    settings,
    now: Date.now,
    providerFor: providerRegistry(settings, onTiming),
    defer,
    dispatch: (ids, delaySeconds) => {
      // Without a queue binding nothing is lost: the cron sweeper sends due deliveries.
      if (ids.length > 0 && env.DELIVERIES) defer(enqueueDeliveries(env.DELIVERIES, ids, delaySeconds))
    },
  }
}
