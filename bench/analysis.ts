import { LABELS, type OpName, type PassResults } from './scenario'

/**
 * Which DB probe stands for one round trip of each op: create, confirm and resend run write
 * batches (claimCreate, claimConfirmAttempt, claimResend, transition in src/transfers/store.ts);
 * GET one transfer is a single SELECT (findTransfer).
 */
export const ROUND_TRIP_KIND: Record<OpName, 'update' | 'select'> = {
  create: 'update',
  resend: 'update',
  confirm_wrong: 'update',
  confirm: 'update',
  get: 'select',
}

export type Overhead = {
  gatewayP50: number
  /** 0 for GET: the gateway calls no provider, so there is nothing to subtract. */
  directP50: number
  roundTripsPerOp: number
  dbRoundTripP50: number
  /** direct + round trips × one DB round trip: the I/O the gateway cannot avoid. */
  ioP50: number
  /** gateway − I/O, with the harness's transport to the Worker counted as gateway time. */
  includingFloor: number
  floorP50: number
  /** The same minus the floor (transport to workerd, Miniflare's entry worker, a 404's routing). */
  excludingFloor: number
}

/**
 * "Gateway time beyond its I/O", estimated from outside (workerd's clock stands still while the
 * Worker computes, so it cannot time itself). A difference of medians, not a median of
 * differences: an estimate, labelled as one wherever it is printed.
 */
export const overheadOf = (pass: PassResults, op: OpName): Overhead => {
  const { gateway, direct } = pass.ops[op]
  const dbRoundTripP50 = pass.db[ROUND_TRIP_KIND[op]].p50
  const directP50 = direct?.p50 ?? 0
  const ioP50 = directP50 + gateway.roundTripsPerOp * dbRoundTripP50
  const includingFloor = gateway.p50 - ioP50
  const floorP50 = pass.floors.gateway.p50
  return {
    gatewayP50: gateway.p50,
    directP50,
    roundTripsPerOp: gateway.roundTripsPerOp,
    dbRoundTripP50,
    ioP50,
    includingFloor,
    floorP50,
    excludingFloor: includingFloor - floorP50,
  }
}

export type Verdict = { pass: boolean; text: string }

export const ROUND_TRIP_TARGET = 2
export const OVERHEAD_TARGET_MS = 1

const fixed = (x: number) => x.toFixed(2)

/**
 * The targets, one line each: at most 2 DB round trips for create, confirm and resend (the
 * worst of all passes, so a miss in any pass shows), a wrong-code confirm at 1 as the README says,
 * and under 1 ms p50 of gateway time beyond its I/O, excluding and including the harness floor,
 * from the pass with 1 request in flight (no queueing behind other requests in the estimate).
 */
export const verdicts = (passes: PassResults[], latencyPass: PassResults): Verdict[] => {
  const worstRoundTrips = (op: OpName) => Math.max(...passes.map((p) => p.ops[op].gateway.roundTripsPerOp))
  const lines: Verdict[] = []
  for (const op of ['create', 'confirm', 'resend'] as const) {
    const rt = worstRoundTrips(op)
    lines.push({ pass: rt <= ROUND_TRIP_TARGET, text: `DB round trips per ${op}: ${fixed(rt)} (target <= ${ROUND_TRIP_TARGET}, warm key cache)` })
  }
  const wrong = worstRoundTrips('confirm_wrong')
  lines.push({ pass: wrong <= 1, text: `DB round trips per wrong-code confirm: ${fixed(wrong)} (expected 1, README)` })
  for (const op of ['create', 'confirm', 'resend', 'confirm_wrong', 'get'] as const) {
    const o = overheadOf(latencyPass, op)
    lines.push({
      pass: o.excludingFloor < OVERHEAD_TARGET_MS,
      text: `gateway time beyond its I/O, ${LABELS[op]}, excluding harness floor: ${fixed(o.excludingFloor)} ms p50 (estimate; target < ${OVERHEAD_TARGET_MS} ms)`,
    })
    lines.push({
      pass: o.includingFloor < OVERHEAD_TARGET_MS,
      text: `gateway time beyond its I/O, ${LABELS[op]}, including harness floor: ${fixed(o.includingFloor)} ms p50 (estimate; target < ${OVERHEAD_TARGET_MS} ms)`,
    })
  }
  return lines
}
