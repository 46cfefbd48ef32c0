import { type CpuSample, cpuPerRequest } from './cpu'
import { type PartnerRequest, type SfoxFlowStep, sfoxFlowRequests } from './gateway'
import { expect, getInit, httpTransport } from './http'
import type { IoProbeWorker, ReplayShape } from './io-probe'
import { bothInTurn } from './load'
import { settledRoundTrips } from './measure'
import { findDescendants } from './memory'
import { LABELS } from './ops'
import { SFOX_CALLS, type SfoxCallName } from './sfox'
import type { Stack } from './stack'
import { summarize } from './stats'

/**
 * "Gateway time beyond its I/O", measured instead of estimated: the CPU workerd's event-loop thread
 * spends on a gateway request (from /proc, nanoseconds), less the CPU the same thread of a second
 * workerd spends on a replay of that request's I/O alone, by a Worker that does nothing else
 * (bench/io-probe.ts): the same request in (method, headers, body), the rate limiter's DO call, the
 * same number of DB round trips with the same bytes each way, the same sFOX call, and the gateway's
 * own answer back (status, headers, body). At 1 request in flight, a request's time is its CPU on
 * that thread plus waiting for I/O; what workerd spends doing the I/O (HTTP in and out, sockets,
 * the DO call, Miniflare's entry worker) is in both, so the difference is the gateway's own work:
 * routing, middleware, validation, JSON, SQL building, the state machine, decoding what the I/O
 * answered. Decoding is charged to the gateway on purpose (the replay reads bodies as text and
 * parses nothing), so the figure errs against the gateway, never for it.
 */
/** The bench's sFOX ops, in the order of their chain (each works on the transfers the one before left), and the floor. */
export const CPU_JUDGE_STEPS = ['create', 'resend', 'confirm_wrong', 'confirm', 'get', 'floor'] as const
export type CpuJudgeStep = (typeof CPU_JUDGE_STEPS)[number]
export type CpuJudgedOp = Exclude<CpuJudgeStep, 'floor'>
export const CPU_JUDGED_OPS = CPU_JUDGE_STEPS.filter((step): step is CpuJudgedOp => step !== 'floor')

export const CPU_JUDGE_LABELS: Record<CpuJudgeStep, string> = { ...LABELS, floor: 'floor (GET /nope, 404)' }

const FLOW_STEP_OF: Record<CpuJudgedOp, SfoxFlowStep> = {
  create: 'create',
  resend: 'resend',
  confirm_wrong: 'confirmWrong',
  confirm: 'confirm',
  get: 'get',
}
const SFOX_CALL_OF: Record<CpuJudgeStep, SfoxCallName | null> = {
  create: 'create',
  resend: 'resend',
  confirm_wrong: 'confirmWrong',
  confirm: 'confirm',
  get: null,
  floor: null,
}
// Writes wait for the rate limiter's count; a read runs beside it (src/middleware/rate-limit.ts); /nope has no partner.
const RATE_LIMIT_OF: Record<CpuJudgeStep, ReplayShape['rateLimit']> = {
  create: 'before',
  resend: 'before',
  confirm_wrong: 'before',
  confirm: 'before',
  get: 'beside',
  floor: 'none',
}
/** Requests per step that learn each step's shape from the gateway. */
const SHAPE_N = 20
/** Untimed requests per step and side before the rounds. */
const WARMUP = 200
const ROUNDS = 5

export type CpuSide = {
  requests: number
  /** Event-loop thread, µs per request: the median request, the 99th percentile, and the mean over the phases. */
  loopP50Us: number
  loopP99Us: number
  loopMeanUs: number
  /** All of workerd's threads (V8's concurrent GC and compiler too), µs per request, mean. */
  allMeanUs: number
}

export type CpuJudgeRow = {
  gateway: CpuSide
  replay: CpuSide
  /** gateway − replay: the gateway's own CPU per request, p50 (what the target judges), and means. */
  beyondP50Us: number
  beyondMeanUs: number
  beyondAllMeanUs: number
  /** What the replay did per request, as learned from the gateway's requests. */
  shape: {
    rateLimit: ReplayShape['rateLimit']
    dbRoundTrips: number
    dbRequestBytes: number
    dbResponseBytes: number
    sfox: string | null
    responseBytes: number
    responseHeaders: number
  }
}

export type CpuJudgeResults = {
  rounds: number
  requestsPerStep: number
  warmup: number
  rows: Record<CpuJudgeStep, CpuJudgeRow>
}

type Progress = (line: string) => void

const sideOf = (samples: CpuSample[]): CpuSide => {
  const loopUs = samples.flatMap((s) => s.loopUs)
  const requests = loopUs.length
  const { p50, p99 } = summarize(loopUs, 0)
  const weighted = (pick: (s: CpuSample) => number) =>
    samples.reduce((sum, s) => sum + pick(s) * s.loopUs.length, 0) / requests
  return {
    requests,
    loopP50Us: p50,
    loopP99Us: p99,
    loopMeanUs: weighted((s) => s.loopMeanUs),
    allMeanUs: weighted((s) => s.allMeanUs),
  }
}

const MARK = '@@transfer-id@@'
const splitAround = (body: unknown): { bodyBefore: string; bodyAfter: string } => {
  const [bodyBefore = '', bodyAfter = ''] = JSON.stringify(body).split(MARK)
  return { bodyBefore, bodyAfter }
}

/**
 * Runs the judge: learns each step's shape from the gateway's own requests, sets the probe's replay
 * to match, then measures both sides in alternating rounds (so drift hits both), about `n`
 * requests per step and side, one at a time. Null without /proc (or with the workerds not told apart).
 */
export const runCpuJudge = async (
  stack: Stack,
  probe: IoProbeWorker,
  partner: { issueKey: () => Promise<string> },
  n: number,
  progress: Progress,
): Promise<CpuJudgeResults | null> => {
  const gatewayPids = findDescendants('workerd').filter((pid) => pid !== probe.pid)
  if (probe.pid === null || gatewayPids.length !== 1) return null
  const gatewayPid = gatewayPids[0]!
  const probePid = probe.pid
  const gateway = httpTransport('gateway', stack.gateway.url)
  const { libsql } = stack

  let key = ''
  const freshKey = async () => {
    key = await partner.issueKey()
    await expect(gateway.fetch('/v1/transfers/cpu-prime', getInit(key)), 404, 'cpu judge prime')
  }
  const requestOf = (step: CpuJudgeStep, id: string): PartnerRequest =>
    step === 'floor' ? { path: '/nope', init: getInit(), status: 404 } : sfoxFlowRequests(key)[FLOW_STEP_OF[step]](id)
  const send = async (step: CpuJudgeStep, id: string) => {
    const { path, init, status, mustContain } = requestOf(step, id)
    return expect(gateway.fetch(path, init), status, `cpu judge ${step} ${id}`, mustContain)
  }
  const replay = (step: CpuJudgeStep, id: string) => {
    const { init, status } = requestOf(step, id)
    return probe.replay(step, id, init, status)
  }

  progress(`CPU judge: learning each request's I/O from the gateway (${SHAPE_N} requests per step)`)
  await freshKey()
  const shapes = {} as Record<CpuJudgeStep, CpuJudgeRow['shape']>
  for (const step of CPU_JUDGE_STEPS) {
    const ids = Array.from({ length: SHAPE_N }, (_, i) => `cpu-shape-${i}`)
    libsql.resetStats()
    for (const id of ids.slice(0, -1)) await send(step, id)
    // The last one's answer, headers included, is what the replay will send back.
    const last = requestOf(step, ids.at(-1)!)
    const answer = await gateway.fetch(last.path, last.init)
    const body = await answer.text()
    if (answer.status !== last.status)
      throw new Error(`cpu judge ${step}: expected ${last.status}, got ${answer.status}: ${body.slice(0, 300)}`)
    const roundTrips = await settledRoundTrips(libsql)
    const stats = libsql.stats()
    const headers: [string, string][] = []
    answer.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding') headers.push([name, value])
    })
    const sfoxCall = SFOX_CALL_OF[step]
    const shape: ReplayShape = {
      rateLimit: RATE_LIMIT_OF[step],
      db: {
        count: Math.round(roundTrips / SHAPE_N),
        requestBytes: roundTrips ? Math.round(stats.request_bytes / roundTrips) : 0,
        responseBytes: roundTrips ? Math.round(stats.response_bytes / roundTrips) : 0,
      },
      sfox: sfoxCall
        ? {
            path: SFOX_CALLS[sfoxCall].path,
            status: SFOX_CALLS[sfoxCall].status,
            ...splitAround(SFOX_CALLS[sfoxCall].body(MARK)),
          }
        : null,
      response: { status: answer.status, headers, body },
    }
    await probe.setReplayShape(step, shape)
    shapes[step] = {
      rateLimit: shape.rateLimit,
      dbRoundTrips: shape.db.count,
      dbRequestBytes: shape.db.requestBytes,
      dbResponseBytes: shape.db.responseBytes,
      sfox: sfoxCall,
      responseBytes: Buffer.byteLength(body),
      responseHeaders: headers.length,
    }
  }
  // Both sides run every step's code WARMUP times before anything is timed, so V8 has optimized it
  // whatever the passes before ran (with small --n, the gateway's code would still be cooling otherwise).
  progress(`CPU judge: ${WARMUP} untimed requests per step and side`)
  await freshKey()
  for (const step of CPU_JUDGE_STEPS) {
    for (let i = 0; i < WARMUP; i++) {
      await send(step, `cpu-warm-g-${i}`)
      await replay(step, `cpu-warm-r-${i}`)
    }
  }

  const perRound = Math.max(1, Math.ceil(n / ROUNDS))
  progress(
    `CPU judge: ${perRound * ROUNDS} requests per step and side (${CPU_JUDGE_STEPS.join(', ')}), gateway and replay alternating over ${ROUNDS} rounds`,
  )
  const samples = Object.fromEntries(
    CPU_JUDGE_STEPS.map((s) => [s, { gateway: [] as CpuSample[], replay: [] as CpuSample[] }]),
  ) as Record<CpuJudgeStep, { gateway: CpuSample[]; replay: CpuSample[] }>
  for (let r = 0; r < ROUNDS; r++) {
    // A new key each round, loaded before anything is timed: no request pays for a key-cache reload.
    await freshKey()
    for (const step of CPU_JUDGE_STEPS) {
      const gatewaySide = async () =>
        samples[step].gateway.push(await cpuPerRequest(gatewayPid, perRound, (i) => send(step, `cpu-g${r}-${i}`)))
      const replaySide = async () =>
        samples[step].replay.push(await cpuPerRequest(probePid, perRound, (i) => replay(step, `cpu-r${r}-${i}`)))
      await bothInTurn(r, gatewaySide, replaySide)
    }
  }

  const rows = Object.fromEntries(
    CPU_JUDGE_STEPS.map((step) => {
      const gatewaySide = sideOf(samples[step].gateway)
      const replaySide = sideOf(samples[step].replay)
      const row: CpuJudgeRow = {
        gateway: gatewaySide,
        replay: replaySide,
        beyondP50Us: gatewaySide.loopP50Us - replaySide.loopP50Us,
        beyondMeanUs: gatewaySide.loopMeanUs - replaySide.loopMeanUs,
        beyondAllMeanUs: gatewaySide.allMeanUs - replaySide.allMeanUs,
        shape: shapes[step],
      }
      return [step, row]
    }),
  ) as Record<CpuJudgeStep, CpuJudgeRow>
  return { rounds: ROUNDS, requestsPerStep: perRound * ROUNDS, warmup: WARMUP, rows }
}
