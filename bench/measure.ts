import type { LibsqlServer } from '../sandbox/libsql-server/server'
import { runConcurrent } from './load'
import { type Summary, summarize } from './stats'

/**
 * A phase's latency figures plus the DB round trips the libSQL server served during it, and the time
 * it spent executing them (`dbServeMsPerOp`: a mean, the database's own work per op).
 */
/**
 * `roundTripsPerOp` leaves out `bookkeepingAlone`: what the gateway writes on timers, not per op
 * (provider call counts every PROVIDER_STATS_FLUSH_SECONDS, an audit outcome after a quiet second).
 */
export type Measured = Summary & {
  roundTrips: number
  roundTripsPerOp: number
  bookkeepingAlone: number
  dbServeMsPerOp: number
}

const roundTripsSoFar = (libsql: LibsqlServer) => {
  const stats = libsql.stats()
  return stats.pipeline_requests + stats.cursor_requests
}

/**
 * Work a Worker leaves running after its response (ctx.waitUntil) still belongs to the phase that
 * caused it: wait until the counter has not moved for a moment (at most 2 s) before reading it.
 */
export const settledRoundTrips = async (libsql: LibsqlServer) => {
  let last = roundTripsSoFar(libsql)
  for (const deadline = Date.now() + 2_000; Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 25))
    const now = roundTripsSoFar(libsql)
    if (now === last) return now
    last = now
  }
  return last
}

/**
 * One op type alone in a phase, so every round trip the server counts belongs to it: reset the
 * counter, run, read it once it settles. Pipeline and cursor requests are both round trips.
 */
export const measure = async (
  libsql: LibsqlServer,
  count: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<Measured> => {
  libsql.resetStats()
  const sample = await runConcurrent(count, concurrency, async (i) => {
    await op(i)
  })
  const roundTrips = await settledRoundTrips(libsql)
  const { serve_ms: dbServeMs, bookkeeping_requests: bookkeepingAlone } = libsql.stats()
  return {
    ...summarize(sample.latencies, sample.elapsedMs),
    roundTrips,
    roundTripsPerOp: (roundTrips - bookkeepingAlone) / count,
    bookkeepingAlone,
    dbServeMsPerOp: dbServeMs / count,
  }
}
