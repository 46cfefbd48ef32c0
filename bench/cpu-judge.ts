import { randomUUID } from 'node:crypto'
import { type CpuSample, cpuPerRequest, cpuPerRequestPaired } from './cpu'
import { type PartnerRequest, type SfoxFlowStep, setupPartner, sfoxFlowRequests } from './gateway'
import { expect, getInit, httpTransport } from './http'
import { CRYPTO_OPS, type CryptoOp, type IoProbeWorker, type ReplayShape } from './io-probe'
import { settledRoundTrips } from './measure'
import { findDescendants } from './memory'
import { LABELS, OPS } from './ops'
import { type QiCall, qiFlowRequests, qiReplayCall } from './qi'
import { registerQiIntegration } from './qi-control'
import { SFOX_CALLS, type SfoxCallName } from './sfox'
import type { Stack } from './stack'
import { summarize } from './stats'

/**
 * "Gateway time beyond its I/O", measured instead of estimated: the CPU workerd's event-loop thread
 * spends on a gateway request (from /proc, nanoseconds), less the CPU the same thread of a second
 * workerd spends on a replay of that request's I/O alone, by a Worker that does nothing else
 * (bench/io-probe.ts): the same request in (method, headers, body), the rate limiter's DO call, the
 * same number of DB round trips with the same bytes each way, the same sFOX call, the lines the gateway
 * logged for such a request, and the gateway's own answer back (status, headers, body). A log line is
 * the runtime's output: local workerd formats each console call through its Node inspect module and
 * flushes it to stdout (tens of µs for a lone line; production's runtime only records it), so both
 * sides pay that, and building the line stays the gateway's. At 1 request in flight, a request's time is its CPU on
 * that thread plus waiting for I/O; what workerd spends doing the I/O (HTTP in and out, sockets,
 * the DO call, Miniflare's entry worker) is in both, so the difference is the gateway's own work:
 * routing, middleware, validation, JSON, SQL building, the state machine, decoding what the I/O
 * answered. Decoding is charged to the gateway on purpose (the replay reads bodies as text and
 * parses nothing), so the figure errs against the gateway, never for it.
 *
 * QI's protocol makes some CPU mandatory for any client: per call, the MD5 of the body sent, one ES512
 * (P-521) signature, and for QI's signed answer one ES512 verification and the MD5 of the body received.
 * A QI op's replay does that too (WebCrypto, keys imported once), so a QI op is judged on what the
 * gateway spends beyond its I/O and beyond that crypto floor; the floor itself is measured apart
 * (`measureCryptoFloor`) and reported beside it.
 */
/** The bench's sFOX ops, then its QI ops, each in the order of their chain (each works on the transfers the one before left), and the floor. */
export const CPU_JUDGE_STEPS = [...OPS, 'floor'] as const
export type CpuJudgeStep = (typeof CPU_JUDGE_STEPS)[number]
export type CpuJudgedOp = Exclude<CpuJudgeStep, 'floor'>
export const CPU_JUDGED_OPS = CPU_JUDGE_STEPS.filter((step): step is CpuJudgedOp => step !== 'floor')

export const CPU_JUDGE_LABELS: Record<CpuJudgeStep, string> = { ...LABELS, floor: 'floor (GET /nope, 404)' }

const FLOW_STEP_OF: Record<CpuJudgedOp, { sfox: SfoxFlowStep } | { qi: QiCall }> = {
  create: { sfox: 'create' },
  resend: { sfox: 'resend' },
  confirm_wrong: { sfox: 'confirmWrong' },
  confirm: { sfox: 'confirm' },
  get: { sfox: 'get' },
  qi_create: { qi: 'create' },
  qi_resend: { qi: 'resend' },
  qi_confirm_wrong: { qi: 'confirmWrong' },
  qi_confirm: { qi: 'confirm' },
}
const SFOX_CALL_OF: Record<CpuJudgeStep, SfoxCallName | null> = {
  create: 'create',
  resend: 'resend',
  confirm_wrong: 'confirmWrong',
  confirm: 'confirm',
  get: null,
  qi_create: null,
  qi_resend: null,
  qi_confirm_wrong: null,
  qi_confirm: null,
  floor: null,
}
// Writes wait for the rate limiter's count; a read runs beside it (src/middleware/rate-limit.ts); /nope has no partner.
const RATE_LIMIT_OF: Record<CpuJudgeStep, ReplayShape['rateLimit']> = {
  create: 'before',
  resend: 'before',
  confirm_wrong: 'before',
  confirm: 'before',
  get: 'beside',
  qi_create: 'before',
  qi_resend: 'before',
  qi_confirm_wrong: 'before',
  qi_confirm: 'before',
  floor: 'none',
}
/** QI's mandatory crypto per call: the request's MD5 and signature, the signed answer's verification and MD5. */
export const QI_CRYPTO_PER_CALL: Record<CryptoOp, number> = { sign: 1, verify: 1, md5: 2 }
/** Requests per step that learn each step's shape from the gateway. */
const SHAPE_N = 20
/** Untimed requests per step and side before the rounds. */
const WARMUP = 200
// The sides take turns in blocks of JUDGED_BLOCK requests, so both see the machine as it is at that
// moment (its speed moves within seconds here) and each serves requests back to back, as in the
// latency pass whose gateway time the judge takes apart. Every other round they take turns request by
// request instead: reported beside it ("interleaved"), that adds what each side pays to refill its
// caches after the other ran. Pairs of rounds swap which side goes first.
const ROUNDS = 8
const JUDGED_BLOCK = 10
const isInterleaved = (round: number) => round % 2 === 1

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
  /**
   * gateway − replay, the gateway's own CPU per request: the median of the pairs' differences (each
   * gateway request less the replay request run beside it; what the target judges), the same median
   * within each round (its spread), the whole phases' p50s less each other, and means.
   */
  beyondUs: number
  beyondRoundsUs: number[]
  /** Each side's median per judged round: which side a round's spread comes from. */
  sidesRoundsUs: { gateway: number[]; replay: number[] }
  /** The same median from the interleaved rounds (turns request by request), with both sides' p50s. */
  interleaved: { beyondUs: number; gatewayP50Us: number; replayP50Us: number }
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
    /** The QI call, made with QI_CRYPTO_PER_CALL's signing, verifying and hashing. */
    qi: QiCall | null
    /** The gateway's log lines per request, and their bytes, which the replay writes too. */
    logLines: number
    logBytes: number
    responseBytes: number
    responseHeaders: number
  }
}

/**
 * µs of event-loop CPU per operation inside workerd (the probe Worker, WebCrypto): one ES512 signature
 * and one verification with P-521 keys, one MD5 of a CRYPTO_BODY_BYTES body; the median over rounds of
 * (a request running `perRequest` of them − a request running none) / `perRequest`.
 */
export type CryptoFloor = {
  perRequest: number
  rounds: number
  us: Record<CryptoOp, number>
  /** What one QI call's mandatory crypto costs: QI_CRYPTO_PER_CALL of each. */
  perQiCallUs: number
}

export type CpuJudgeResults = {
  rounds: number
  /** Requests a side runs in a row before the other's turn, in the judged rounds. */
  block: number
  /** Judged requests per step and side (as many again ran interleaved). */
  requestsPerStep: number
  warmup: number
  rows: Record<CpuJudgeStep, CpuJudgeRow>
  cryptoFloor: CryptoFloor
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

// The bench's p50 (nearest rank, a difference that was really observed).
const median = (values: readonly number[]) => summarize(values, 0).p50

/** The spread of a row's per-round differences, µs: "lowest to highest". */
export const roundsRangeUs = (row: Pick<CpuJudgeRow, 'beyondRoundsUs'>) =>
  `${Math.min(...row.beyondRoundsUs).toFixed(0)} to ${Math.max(...row.beyondRoundsUs).toFixed(0)}`

const MARK = '@@transfer-id@@'
const splitAround = (body: unknown): { bodyBefore: string; bodyAfter: string } => {
  const [bodyBefore = '', bodyAfter = ''] = JSON.stringify(body).split(MARK)
  return { bodyBefore, bodyAfter }
}

/**
 * Runs the judge: learns each step's shape from the gateway's own requests, sets the probe's replay
 * to match, then measures both sides taking turns (so drift hits both), about `n` requests per step
 * and side, one at a time: half in blocks of JUDGED_BLOCK (judged), half interleaved request by request
 * (reported). Null without /proc (or with the workerds not told apart).
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
  const { libsql, qi, qiKeys } = stack

  // QI ops go through a partner of the judge's own, connected to a QI integration the replay calls too
  // (the scenario's partner is left as it is).
  const integration = await registerQiIntegration(qi.url, qiKeys.publicKeyPem)
  const qiPartner = await setupPartner(
    gateway,
    stack.gateway.adminToken,
    {
      sfox: { url: stack.sfox.url, apiKey: (await stack.sfox.newAccount()).api_key },
      qi: { url: qi.url, integration, privateKeyPem: qiKeys.privateKeyPem },
    },
    'CPU judge QI partner',
  )

  let key = ''
  let qiKey = ''
  const freshKey = async () => {
    ;[key, qiKey] = [await partner.issueKey(), await qiPartner.issueKey()]
    for (const k of [key, qiKey])
      await expect(gateway.fetch('/v1/transfers/cpu-prime', getInit(k)), 404, 'cpu judge prime')
  }
  const requestOf = (step: CpuJudgeStep, id: string): PartnerRequest => {
    if (step === 'floor') return { path: '/nope', init: getInit(), status: 404 }
    const flowStep = FLOW_STEP_OF[step]
    return 'sfox' in flowStep
      ? sfoxFlowRequests(key)[flowStep.sfox](id)
      : qiFlowRequests(qiKey, integration.accountKey)[flowStep.qi](id)
  }
  const send = async (step: CpuJudgeStep, id: string) => {
    const { path, init, status, mustContain } = requestOf(step, id)
    return expect(gateway.fetch(path, init), status, `cpu judge ${step} ${id}`, mustContain)
  }
  // A QI replay's id is the request_control_key its create sends (a uuid4, as QI wants), one per transfer.
  const controlKeys = new Map<string, string>()
  const replayIdOf = (step: CpuJudgeStep, id: string) => {
    if (!step.startsWith('qi_')) return id
    let controlKey = controlKeys.get(id)
    if (!controlKey) controlKeys.set(id, (controlKey = randomUUID()))
    return controlKey
  }
  const replay = (step: CpuJudgeStep, id: string) => {
    const { init, status } = requestOf(step, id)
    return probe.replay(step, replayIdOf(step, id), init, status)
  }

  progress(`CPU judge: learning each request's I/O from the gateway (${SHAPE_N} requests per step)`)
  await freshKey()
  const shapes = {} as Record<CpuJudgeStep, CpuJudgeRow['shape']>
  for (const step of CPU_JUDGE_STEPS) {
    const ids = Array.from({ length: SHAPE_N }, (_, i) => `cpu-shape-${i}`)
    libsql.resetStats()
    const logsOf = stack.gateway.tapLogs()
    for (const id of ids.slice(0, -1)) await send(step, id)
    // The last one's answer, headers included, is what the replay will send back.
    const last = requestOf(step, ids.at(-1)!)
    const answer = await gateway.fetch(last.path, last.init)
    const body = await answer.text()
    if (answer.status !== last.status)
      throw new Error(`cpu judge ${step}: expected ${last.status}, got ${answer.status}: ${body.slice(0, 300)}`)
    const roundTrips = await settledRoundTrips(libsql)
    const stats = libsql.stats()
    const logs = logsOf()
    // The lines one request wrote: as many as the requests wrote on average, the last ones (the last request's).
    const logLines = logs.slice(logs.length - Math.round(logs.length / SHAPE_N))
    const headers: [string, string][] = []
    answer.headers.forEach((value, name) => {
      if (name !== 'content-length' && name !== 'transfer-encoding') headers.push([name, value])
    })
    const sfoxCall = SFOX_CALL_OF[step]
    const flowStep = step === 'floor' ? null : FLOW_STEP_OF[step]
    const qiCall = flowStep && 'qi' in flowStep ? flowStep.qi : null
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
      qi: qiCall ? qiReplayCall(qiCall, integration, qiKeys.privateKeyPem) : null,
      logLines,
      response: { status: answer.status, headers, body },
    }
    await probe.setReplayShape(step, shape)
    shapes[step] = {
      rateLimit: shape.rateLimit,
      dbRoundTrips: shape.db.count,
      dbRequestBytes: shape.db.requestBytes,
      dbResponseBytes: shape.db.responseBytes,
      sfox: sfoxCall,
      qi: qiCall,
      logLines: logLines.length,
      logBytes: logLines.reduce((sum, line) => sum + Buffer.byteLength(line.message), 0),
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
    `CPU judge: ${perRound * ROUNDS} requests per step and side (${CPU_JUDGE_STEPS.join(', ')}), gateway and replay taking turns, ${ROUNDS} rounds (every other one request by request)`,
  )
  const noSamples = () =>
    Object.fromEntries(
      CPU_JUDGE_STEPS.map((s) => [s, { gateway: [] as CpuSample[], replay: [] as CpuSample[] }]),
    ) as Record<CpuJudgeStep, { gateway: CpuSample[]; replay: CpuSample[] }>
  const samples = noSamples()
  const interleavedSamples = noSamples()
  for (let r = 0; r < ROUNDS; r++) {
    // A new key each round, loaded before anything is timed: no request pays for a key-cache reload.
    await freshKey()
    for (const step of CPU_JUDGE_STEPS) {
      const { a, b } = await cpuPerRequestPaired(
        { a: gatewayPid, b: probePid },
        perRound,
        { a: (i) => send(step, `cpu-g${r}-${i}`), b: (i) => replay(step, `cpu-r${r}-${i}`) },
        Math.floor(r / 2) % 2 === 1,
        undefined,
        isInterleaved(r) ? 1 : JUDGED_BLOCK,
      )
      const kept = isInterleaved(r) ? interleavedSamples : samples
      kept[step].gateway.push(a)
      kept[step].replay.push(b)
    }
  }
  // Per round, each gateway request less the replay request beside it.
  const pairsOf = ({ gateway, replay }: { gateway: CpuSample[]; replay: CpuSample[] }) =>
    gateway.map((round, r) => round.loopUs.map((us, i) => us - replay[r]!.loopUs[i]!))

  const rows = Object.fromEntries(
    CPU_JUDGE_STEPS.map((step) => {
      const gatewaySide = sideOf(samples[step].gateway)
      const replaySide = sideOf(samples[step].replay)
      const pairs = pairsOf(samples[step])
      const interleaved = interleavedSamples[step]
      const row: CpuJudgeRow = {
        gateway: gatewaySide,
        replay: replaySide,
        beyondUs: median(pairs.flat()),
        beyondRoundsUs: pairs.map(median),
        sidesRoundsUs: {
          gateway: samples[step].gateway.map((round) => median(round.loopUs)),
          replay: samples[step].replay.map((round) => median(round.loopUs)),
        },
        interleaved: {
          beyondUs: median(pairsOf(interleaved).flat()),
          gatewayP50Us: sideOf(interleaved.gateway).loopP50Us,
          replayP50Us: sideOf(interleaved.replay).loopP50Us,
        },
        beyondP50Us: gatewaySide.loopP50Us - replaySide.loopP50Us,
        beyondMeanUs: gatewaySide.loopMeanUs - replaySide.loopMeanUs,
        beyondAllMeanUs: gatewaySide.allMeanUs - replaySide.allMeanUs,
        shape: shapes[step],
      }
      return [step, row]
    }),
  ) as Record<CpuJudgeStep, CpuJudgeRow>
  progress(`CPU judge: the crypto floor, ${CRYPTO_FLOOR_ROUNDS} rounds of ${CRYPTO_FLOOR_PER_REQUEST} per operation`)
  const cryptoFloor = await measureCryptoFloor(probe, probePid)
  return {
    rounds: ROUNDS,
    block: JUDGED_BLOCK,
    requestsPerStep: perRound * (ROUNDS / 2),
    warmup: WARMUP,
    rows,
    cryptoFloor,
  }
}

const CRYPTO_FLOOR_PER_REQUEST = 100
const CRYPTO_FLOOR_ROUNDS = 7

/**
 * µs per ES512 signature, verification and MD5 inside workerd: Date.now() stands still during
 * synchronous work there, so the event-loop thread's CPU from /proc is the clock, and a request that
 * loops over none of them, taken right beside it, is what the request itself costs.
 */
export const measureCryptoFloor = async (probe: IoProbeWorker, probePid: number): Promise<CryptoFloor> => {
  const cpuOf = async (op: CryptoOp, n: number) =>
    (await cpuPerRequest(probePid, 1, () => probe.cryptoLoop(op, n), 20)).loopUs[0]!
  const us = {} as Record<CryptoOp, number>
  for (const op of CRYPTO_OPS) {
    // The first request makes the keys and warms the code up.
    await probe.cryptoLoop(op, CRYPTO_FLOOR_PER_REQUEST)
    const perOp: number[] = []
    for (let r = 0; r < CRYPTO_FLOOR_ROUNDS; r++) {
      const [loop, bare] = [await cpuOf(op, CRYPTO_FLOOR_PER_REQUEST), await cpuOf(op, 0)]
      perOp.push((loop - bare) / CRYPTO_FLOOR_PER_REQUEST)
    }
    us[op] = summarize(perOp, 0).p50
  }
  const perQiCallUs = CRYPTO_OPS.reduce((sum, op) => sum + us[op] * QI_CRYPTO_PER_CALL[op], 0)
  return { perRequest: CRYPTO_FLOOR_PER_REQUEST, rounds: CRYPTO_FLOOR_ROUNDS, us, perQiCallUs }
}

/** One QI call's mandatory crypto, as measured inside workerd: what each part costs. */
export const cryptoPerCallText = (floor: CryptoFloor) =>
  `${CRYPTO_OPS.map((op) => `${QI_CRYPTO_PER_CALL[op]} × ${CRYPTO_OP_NAMES[op]} ${floor.us[op].toFixed(0)} µs`).join(' + ')} = ${(floor.perQiCallUs / 1000).toFixed(2)} ms`

const CRYPTO_OP_NAMES: Record<CryptoOp, string> = {
  sign: 'ES512 sign',
  verify: 'ES512 verify',
  md5: 'MD5',
}

/** What the QI rows of the judge's table replay besides the I/O, and the floor that adds. */
export const qiReplayNotes = (cpu: CpuJudgeResults) =>
  [
    'QI rows: the replay also makes the QI call (same method, path, body bytes and headers, a TED of its own) and does what',
    "QI's v2 protocol makes mandatory per call: the MD5 of the body sent, one ES512 (P-521) signature, one ES512 verification of",
    'QI\'s signed answer and its body\'s MD5 (WebCrypto, keys imported once), so their "beyond I/O" is beyond that crypto floor too.',
    `Crypto floor inside workerd (event-loop CPU from /proc, median of ${cpu.cryptoFloor.rounds} rounds of ${cpu.cryptoFloor.perRequest} less an empty request): ${cryptoPerCallText(cpu.cryptoFloor)}.`,
  ].join('\n')
