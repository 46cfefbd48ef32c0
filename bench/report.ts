import { overheadOf, ROUND_TRIP_KIND, type Verdict } from './analysis'
import type { RunInfo } from './json'
import type { BenchOptions } from './options'
import type { Measured } from './measure'
import { LABELS, OPS, type PassResults } from './scenario'
import { fmt, signed, table } from './table'

const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? Number.NaN : a / b)

/** A round-trip figure, marked when the phase outlasted the key cache (a reload may be in it). */
const roundTrips = (m: Measured & { keyCacheWarm?: boolean }) => `${fmt(m.roundTripsPerOp)}${m.keyCacheWarm === false ? ' (cache expired!)' : ''}`

export const floorsTable = (pass: PassResults) => {
  const rows: [string, Measured & { keyCacheWarm?: boolean }][] = [
    ['gateway GET /nope (404, no DB), HTTP', pass.floors.gateway],
    ...(pass.floors.dispatch ? [['gateway GET /nope, dispatchFetch', pass.floors.dispatch] as [string, Measured]] : []),
    ['sandbox GET /nope (404), HTTP', pass.floors.direct],
    ['DB: write batch of 1 UPDATE (Node)', pass.db.update],
    ['DB: SELECT by primary key (Node)', pass.db.select],
  ]
  return table(
    ['floor / round trip', 'count', 'ops/s', 'p50 ms', 'p99 ms', 'DB RT/op'],
    rows.map(([name, m]) => [name, String(m.count), fmt(m.opsPerSec, 0), fmt(m.p50), fmt(m.p99), roundTrips(m)]),
  )
}

export const opsTable = (pass: PassResults) => {
  const row = (name: string, gw: Measured & { keyCacheWarm?: boolean }, direct: Measured | null) => [
    name,
    String(gw.count),
    fmt(gw.opsPerSec, 0),
    fmt(direct?.opsPerSec, 0),
    fmt(ratio(gw.opsPerSec, direct?.opsPerSec)),
    fmt(gw.p50),
    fmt(gw.p99),
    fmt(direct?.p50),
    fmt(direct?.p99),
    fmt(ratio(gw.p50, direct?.p50), 1),
    roundTrips(gw),
  ]
  const rows = OPS.map((op) => row(LABELS[op], pass.ops[op].gateway, pass.ops[op].direct))
  if (pass.flows) rows.push(row('create+confirm flow (flows/s)', pass.flows.gateway, pass.flows.direct))
  return table(
    ['op (gateway over HTTP vs direct)', 'count', 'gw ops/s', 'direct ops/s', 'ops/s gw/direct', 'gw p50', 'gw p99', 'direct p50', 'direct p99', 'p50 gw/direct', 'DB RT/op'],
    rows,
  )
}

export const dispatchTable = (pass: PassResults) =>
  table(
    ['op (gateway: dispatchFetch vs HTTP)', 'HTTP p50', 'dispatch p50', 'difference', 'HTTP ops/s', 'dispatch ops/s', 'dispatch DB RT/op'],
    OPS.flatMap((op) => {
      const { gateway, dispatch } = pass.ops[op]
      if (!dispatch) return []
      return [[LABELS[op], fmt(gateway.p50), fmt(dispatch.p50), signed(dispatch.p50 - gateway.p50), fmt(gateway.opsPerSec, 0), fmt(dispatch.opsPerSec, 0), roundTrips(dispatch)]]
    }),
  )

export const overheadTable = (pass: PassResults) =>
  table(
    ['op (ms, p50)', 'gateway', 'direct', 'DB RT/op', 'x 1 DB RT', '= I/O', 'beyond I/O incl. floor', 'floor', 'beyond I/O excl. floor'],
    OPS.map((op) => {
      const o = overheadOf(pass, op)
      return [
        LABELS[op],
        fmt(o.gatewayP50),
        pass.ops[op].direct ? fmt(o.directP50) : '- (none)',
        fmt(o.roundTripsPerOp),
        `${fmt(o.dbRoundTripP50)} ${ROUND_TRIP_KIND[op]}`,
        fmt(o.ioP50),
        signed(o.includingFloor),
        fmt(o.floorP50),
        signed(o.excludingFloor),
      ]
    }),
  )

export const verdictLines = (lines: Verdict[]) => lines.map((l) => `${l.pass ? 'PASS' : 'MISS'}  ${l.text}`).join('\n')

export const section = (title: string, body: string) => `${title}\n${'='.repeat(title.length)}\n${body}`

const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ')

/** What was run, on what, and the settings a reader needs to judge the figures. */
export const header = (options: BenchOptions, info: RunInfo) =>
  [
    'transfer-gateway bench: the gateway (Worker bundle in workerd via Miniflare) vs the same calls straight to the sFOX sandbox',
    `throughput pass: ${options.n} ops per phase and side, ${options.concurrency} in flight; latency pass: ${options.latencyN} per phase and side, 1 in flight; ${options.warmup} warm-up flows per side`,
    `machine: ${info.cpus} CPUs, Node ${info.node}, load average ${loads(info.loadAtStart)} at start, ${loads(info.loadAtEnd)} at end`,
    `sFOX sandbox: per-IP rate limit OFF for the bench (rate_limit.enabled=false); fixed OTP ${info.fixedOtp}, so flows read no outbox`,
    `key cache: API_KEY_CACHE_SECONDS=${info.keyCacheSeconds} (wrangler.toml); each gateway phase uses a new key, loaded before the phase, so every phase runs with a warm cache`,
    'DB RT/op: pipeline + cursor requests the local libSQL server counted during the phase (one op type per phase) / its ops',
    'load generator, sFOX sandbox and libSQL server share one Node event loop; workerd is its own process',
  ].join('\n')
