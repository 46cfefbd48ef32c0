import {
  CALLBACK_LATENCY_TARGET_MS,
  measuredBeyondIo,
  OVERHEAD_TARGET_MS,
  overheadOf,
  ROUND_TRIP_TARGETS,
} from './analysis'
import type { BundleSize } from './bundle'
import type { CallbackResults } from './callbacks'
import { LABELS, OPS, type OpName } from './ops'
import type { PassResults } from './scenario'
import type { UploadResults } from './uploads'

/** One flow or op of the whole run, on one line. Times in ms. */
export type SummaryRow = {
  flow: string
  /** Latency pass (1 in flight), except where `note` says otherwise. */
  gatewayP50: number | null
  directP50: number | null
  /** gateway p50 / direct p50. */
  ratio: number | null
  /** Throughput pass (its concurrency) for ops and flows; 1 in flight for uploads; deliveries/s for callbacks. */
  opsPerSec: number | null
  /** The worst of the passes for ops and flows. */
  roundTripsPerOp: number | null
  /** PASS: every target of the row met; MISS: one missed (named in `note`); INFO: the row has no target. */
  verdict: 'PASS' | 'MISS' | 'INFO'
  note: string
}

export type Summary = { rows: SummaryRow[]; bundle: BundleSize }

const ratioOf = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b)
const fixed = (x: number) => x.toFixed(2)
const mib = (kib: number) => (kib / 1024).toFixed(1)

type Check = { pass: boolean; what: string }
const judged = (checks: Check[]): Pick<SummaryRow, 'verdict' | 'note'> => {
  if (checks.length === 0) return { verdict: 'INFO', note: '' }
  const missed = checks.filter((c) => !c.pass)
  return missed.length
    ? { verdict: 'MISS', note: missed.map((c) => c.what).join('; ') }
    : { verdict: 'PASS', note: checks.map((c) => c.what).join('; ') }
}

/** An op's targets, as the Targets section judges them: its DB round trips (if it has a target) and its time beyond I/O. */
const opChecks = (op: OpName, roundTrips: number, latency: PassResults): Check[] => {
  const checks: Check[] = []
  const target = ROUND_TRIP_TARGETS.find((t) => t.op === op)
  if (target) checks.push({ pass: roundTrips <= target.max, what: `DB RT ${fixed(roundTrips)} (<= ${target.max})` })
  const measured = measuredBeyondIo(latency, op)
  if (measured) {
    checks.push({
      pass: measured.pass,
      what: `beyond I/O (measured CPU) ${fixed(measured.ms)} ms p50 (< ${OVERHEAD_TARGET_MS})`,
    })
    return checks
  }
  const o = overheadOf(latency, op)
  const basis = o.workerdBased ? 'workerd-based' : 'Node-based'
  checks.push({
    pass: o.judged.excludingFloor < OVERHEAD_TARGET_MS,
    what: `beyond I/O (${basis}) excl. floor ${fixed(o.judged.excludingFloor)} ms (< ${OVERHEAD_TARGET_MS})`,
  })
  checks.push({
    pass: o.judged.includingFloor < OVERHEAD_TARGET_MS,
    what: `beyond I/O (${basis}) incl. floor ${fixed(o.judged.includingFloor)} ms (< ${OVERHEAD_TARGET_MS})`,
  })
  return checks
}

/**
 * Every flow of the run on one line each: the sFOX and QI ops and the create+confirm flow, callback
 * latency and deliveries, document uploads of each size. Latencies from the latency pass (no
 * queueing), throughput from the throughput pass, round trips the worst of both.
 */
export const summaryOf = (
  passes: { throughput: PassResults; latency: PassResults },
  callbacks: CallbackResults,
  uploads: UploadResults,
  bundle: BundleSize,
): Summary => {
  const { throughput, latency } = passes
  const rows: SummaryRow[] = []
  for (const op of OPS) {
    const [lat, thr] = [latency.ops[op], throughput.ops[op]]
    const roundTrips = Math.max(lat.gateway.roundTripsPerOp, thr.gateway.roundTripsPerOp)
    const directP50 = lat.direct?.p50 ?? null
    rows.push({
      flow: LABELS[op],
      gatewayP50: lat.gateway.p50,
      directP50,
      ratio: ratioOf(lat.gateway.p50, directP50),
      opsPerSec: thr.gateway.opsPerSec,
      roundTripsPerOp: roundTrips,
      ...judged(opChecks(op, roundTrips, latency)),
    })
    // The flow belongs with the sFOX ops it is made of.
    if (op === 'get') {
      const flows = latency.flows ?? throughput.flows
      if (flows) {
        const roundTripsPerFlow = Math.max(
          ...[latency.flows, throughput.flows].flatMap((f) => (f ? [f.gateway.roundTripsPerOp] : [])),
        )
        rows.push({
          flow: 'create+confirm flow',
          gatewayP50: flows.gateway.p50,
          directP50: flows.direct.p50,
          ratio: ratioOf(flows.gateway.p50, flows.direct.p50),
          opsPerSec: throughput.flows?.gateway.opsPerSec ?? null,
          roundTripsPerOp: roundTripsPerFlow,
          verdict: 'INFO',
          note: `flows/s; p50 from the ${latency.flows ? 'latency' : 'throughput'} pass`,
        })
      }
    }
  }

  const { latency: cbLatency, burst, delayed } = callbacks
  rows.push({
    flow: 'callback latency (answer -> receipt)',
    gatewayP50: cbLatency.latency.all.p50,
    directP50: null,
    ratio: null,
    opsPerSec: null,
    roundTripsPerOp: null,
    ...judged([
      {
        pass: cbLatency.latency.all.p50 < CALLBACK_LATENCY_TARGET_MS,
        what: `p50 < ${CALLBACK_LATENCY_TARGET_MS} ms; p99 ${fixed(cbLatency.latency.all.p99)} ms`,
      },
    ]),
  })
  rows.push({
    flow: 'callback deliveries (burst)',
    gatewayP50: null,
    directP50: null,
    ratio: null,
    opsPerSec: burst.deliveriesPerSec,
    roundTripsPerOp: burst.roundTripsPerDelivery,
    verdict: 'INFO',
    note: `deliveries/s, ${burst.concurrency} changes in flight${delayed ? `; ${fixed(delayed.deliveriesPerSec)}/s with a receiver +${delayed.receiverDelayMs} ms` : ''}`,
  })

  for (const { label, gateway, direct } of uploads.sizes) {
    const w = gateway.memory?.workerd
    rows.push({
      flow: `document upload ${label}`,
      gatewayP50: gateway.p50,
      directP50: direct.p50,
      ratio: ratioOf(gateway.p50, direct.p50),
      opsPerSec: gateway.opsPerSec,
      roundTripsPerOp: gateway.roundTripsPerOp,
      verdict: 'INFO',
      note: `1 in flight; ${fixed(gateway.mibPerSec)} vs ${fixed(direct.mibPerSec)} MiB/s direct${w ? `; workerd RSS +${mib((w.uploads[0]?.peakKib ?? Number.NaN) - w.baselineKib)} MiB 1st upload, +${mib(w.peakKib - w.baselineKib)} peak` : ''}`,
    })
  }
  return { rows, bundle }
}
