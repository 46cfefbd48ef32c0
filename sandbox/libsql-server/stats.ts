/**
 * Round trips served: benchmarks count database round trips per gateway operation with these, and
 * the time the server spent executing them (`serve_ms`, excluding reading the request), so the
 * database's own work can be told apart from the transport to it; and the bytes of the Hrana
 * requests' bodies and of the answers' bodies, so a benchmark can send the same amount of I/O.
 * `bookkeeping_requests` counts the pipelines that wrote only the gateway's bookkeeping: audit
 * outcomes (alone only after a quiet second) and provider call counts (every 10 s), not per request.
 */
export type Counts = {
  pipeline_requests: number
  cursor_requests: number
  serve_ms: number
  request_bytes: number
  response_bytes: number
  bookkeeping_requests: number
}
export type Stats = Counts & { databases: Record<string, Counts> }

export type StatsCounter = {
  count: (database: string, endpoint: 'pipeline' | 'cursor') => void
  served: (database: string, ms: number) => void
  bytes: (database: string, request: number, response: number) => void
  bookkeepingOnly: (database: string) => void
  snapshot: () => Stats
  reset: () => void
}

const zero = (): Counts => ({
  pipeline_requests: 0,
  cursor_requests: 0,
  serve_ms: 0,
  request_bytes: 0,
  response_bytes: 0,
  bookkeeping_requests: 0,
})

export const createStatsCounter = (): StatsCounter => {
  let total = zero()
  let databases = new Map<string, Counts>()
  const of = (database: string) => {
    let db = databases.get(database)
    if (!db) databases.set(database, (db = zero()))
    return db
  }

  const count = (database: string, endpoint: 'pipeline' | 'cursor') => {
    const key = endpoint === 'pipeline' ? 'pipeline_requests' : 'cursor_requests'
    total[key]++
    of(database)[key]++
  }

  const served = (database: string, ms: number) => {
    total.serve_ms += ms
    of(database).serve_ms += ms
  }

  const bytes = (database: string, request: number, response: number) => {
    for (const counts of [total, of(database)]) {
      counts.request_bytes += request
      counts.response_bytes += response
    }
  }

  const bookkeepingOnly = (database: string) => {
    total.bookkeeping_requests++
    of(database).bookkeeping_requests++
  }

  const snapshot = (): Stats => ({
    ...total,
    databases: Object.fromEntries([...databases].map(([name, counts]) => [name, { ...counts }])),
  })

  const reset = () => {
    total = zero()
    databases = new Map()
  }

  return { count, served, bytes, bookkeepingOnly, snapshot, reset }
}
