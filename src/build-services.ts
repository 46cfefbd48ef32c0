import { createDb, type Db, type WriteCompanion } from '../db/client'
import { DELIVERY_BATCH_SIZE, deliverBatch } from './callbacks/delivery'
import { enqueueDeliveries } from './callbacks/dispatch'
import { describeError } from './lib/errors'
import { log } from './lib/log'
import { type Bindings, settingsOf } from './lib/settings'
import { countedProvider, flushProviderStats } from './operations/provider-stats'
import type { ProviderErrorKind, ProviderName } from './providers/provider'
import { providerRegistry } from './providers/registry'
import type { Services } from './services'

const logFailure = (what: string) => (error: unknown) => log.error(`${what} failed`, { error: describeError(error) })

/** Deliveries attempted here, without a queue: claimed, sent and recorded a batch at a time, as a queue batch is. */
const deliverInBatches = async (services: Services, ids: string[]) => {
  for (let i = 0; i < ids.length; i += DELIVERY_BATCH_SIZE)
    await deliverBatch(services, ids.slice(i, i + DELIVERY_BATCH_SIZE), { retriesQueued: false })
}

/**
 * The services every entry point (HTTP request, queue batch, cron run) gives the operations: parsed
 * settings, a database client of its own (Workers forbid sharing I/O objects across requests),
 * provider adapters, and a way to finish work after answering. A request's `companion` (its audit
 * entry) joins every write its database client makes.
 */
export const buildServices = (
  env: Bindings,
  ctx: Pick<ExecutionContext, 'waitUntil'>,
  request: {
    /** Time spent waiting for providers and the database, for the request's log line. */
    onTiming?: (ms: number) => void
    /** The request's audit entry, joined to every write (db/client.ts). */
    companion?: WriteCompanion
    /** Which provider the request called and how it failed, for its log line and metrics. */
    onProviderCall?: (provider: ProviderName, failureKind: ProviderErrorKind | null) => void
  } = {},
): Services => {
  const { onTiming = () => {}, companion, onProviderCall = () => {} } = request
  const settings = settingsOf(env)
  const defer = (task: Promise<unknown>) => ctx.waitUntil(task.catch(logFailure('background task')))
  const connect = providerRegistry(settings, onTiming, env.SIMULATOR)
  let db: Db | undefined
  const services: Services = {
    // Made on first use: routes that never touch the database (health's liveness, 404s) skip it.
    get db() {
      return (db ??= createDb(settings.LIBSQL_URL, settings.LIBSQL_AUTH_TOKEN, companion))
    },
    settings,
    now: Date.now,
    // Every provider call is counted for /admin/health; the counts reach the table after the answer.
    providerFor: async (partner, name, override) =>
      countedProvider(
        await connect(partner.id, name, partner.connections[name], { ...override, mode: partner.mode }),
        name,
        Date.now,
        (failureKind) => {
          onProviderCall(name, failureKind)
          const flush = flushProviderStats(services.db, Date.now(), settings.PROVIDER_STATS_FLUSH_SECONDS * 1000)
          if (flush) defer(flush)
        },
      ),
    defer,
    metrics: env.METRICS,
    dispatch: (ids, delaySeconds) => {
      if (ids.length === 0) return
      if (env.DELIVERIES) return defer(enqueueDeliveries(env.DELIVERIES, ids, delaySeconds))
      // Without a queue binding (a deployment that left it out) deliveries are attempted here, after
      // the answer; a retry is not due yet, and the cron sweeper brings it back here when it is.
      if (!delaySeconds) defer(deliverInBatches(services, ids))
    },
  }
  return services
}
