// Metrics where Cloudflare users look: one Workers Analytics Engine data point per request and per
// callback attempt (the METRICS binding; nothing when it is absent). Never a code, key, secret, body,
// address or anything about an end user: ids of partners and endpoints, routes, statuses, timings.
// The columns, for SQL queries (docs/operations.md): blob1 is the kind ("request" or "callback").

export type MetricsSink = { writeDataPoint: (point: AnalyticsEngineDataPoint) => unknown } | undefined

/** blob2 partner, blob3 mode, blob4 method, blob5 route, blob6 provider, blob7 provider error kind; double1 status, double2 duration ms, double3 provider ms. */
export type RequestMetric = {
  partnerId: string | null
  mode: string | null
  method: string
  route: string
  provider: string | null
  providerErrorKind: string | null
  status: number
  durationMs: number
  upstreamMs: number
}

/** blob2 partner, blob3 mode, blob4 endpoint, blob5 event type, blob6 outcome; double1 receiver's status (0: none), double2 duration ms, double3 attempt number. */
export type CallbackMetric = {
  partnerId: string
  mode: string
  endpointId: string
  eventType: string
  outcome: string
  status: number | null
  durationMs: number
  attempt: number
}

export const requestPoint = (m: RequestMetric): AnalyticsEngineDataPoint => ({
  indexes: [m.partnerId ?? ''],
  blobs: ['request', m.partnerId ?? '', m.mode ?? '', m.method, m.route, m.provider ?? '', m.providerErrorKind ?? ''],
  doubles: [m.status, m.durationMs, m.upstreamMs],
})

export const callbackPoint = (m: CallbackMetric): AnalyticsEngineDataPoint => ({
  indexes: [m.partnerId],
  blobs: ['callback', m.partnerId, m.mode, m.endpointId, m.eventType, m.outcome],
  doubles: [m.status ?? 0, m.durationMs, m.attempt],
})

/**
 * Writes a point if the deployment has the binding; a metric never fails the work it describes. A
 * stand-in bound as a service (the tests' recorder) answers a promise: `keepAlive` lets it finish.
 */
export const writeMetric = (
  sink: MetricsSink,
  point: AnalyticsEngineDataPoint,
  keepAlive?: (pending: Promise<unknown>) => void,
) => {
  try {
    const pending = sink?.writeDataPoint(point) as PromiseLike<unknown> | undefined
    // (An RPC answer is thenable, not a Promise instance.)
    if (typeof pending?.then === 'function') keepAlive?.(Promise.resolve(pending).catch(() => {}))
  } catch {
    // Analytics Engine drops points it cannot take; so do we.
  }
}
