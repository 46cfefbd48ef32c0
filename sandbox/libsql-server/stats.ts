/**
 * Round trips served: benchmarks count database round trips per gateway operation with these, and
 * the time the server spent executing them (`serve_ms`, excluding reading the request), so the
 * database's own work can be told apart from the transport to it.
 */
export type Counts = { pipeline_requests: number; cursor_requests: number; serve_ms: number }
export type Stats = Counts & { databases: Record<string, Counts> }

export type StatsCounter = {
  count: (database: string, endpoint: 'pipeline' | 'cursor') => void
  served: (database: string, ms: number) => void
  snapshot: () => Stats
  reset: () => void
}

const zero = (): Counts => ({ pipeline_requests: 0, cursor_requests: 0, serve_ms: 0 })

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

  const snapshot = (): Stats => ({
    ...total,
    databases: Object.fromEntries([...databases].map(([name, counts]) => [name, { ...counts }])),
  })

  const reset = () => {
    total = zero()
    databases = new Map()
  }

  return { count, served, snapshot, reset }
}
