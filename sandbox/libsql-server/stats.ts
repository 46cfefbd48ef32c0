/** Round trips served: benchmarks count database round trips per gateway operation with these. */
export type Counts = { pipeline_requests: number; cursor_requests: number }
export type Stats = Counts & { databases: Record<string, Counts> }

export type StatsCounter = {
  count: (database: string, endpoint: 'pipeline' | 'cursor') => void
  snapshot: () => Stats
  reset: () => void
}

export const createStatsCounter = (): StatsCounter => {
  let total: Counts = { pipeline_requests: 0, cursor_requests: 0 }
  let databases = new Map<string, Counts>()

  const count = (database: string, endpoint: 'pipeline' | 'cursor') => {
    let db = databases.get(database)
    if (!db) databases.set(database, (db = { pipeline_requests: 0, cursor_requests: 0 }))
    const key = endpoint === 'pipeline' ? 'pipeline_requests' : 'cursor_requests'
    total[key]++
    db[key]++
  }

  const snapshot = (): Stats => ({
    ...total,
    databases: Object.fromEntries([...databases].map(([name, counts]) => [name, { ...counts }])),
  })

  const reset = () => {
    total = { pipeline_requests: 0, cursor_requests: 0 }
    databases = new Map()
  }

  return { count, snapshot, reset }
}
