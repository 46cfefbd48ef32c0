import { randomBytes } from 'node:crypto'
import { directUpload, gatewayUpload, pdfOf } from './documents'
import { gatewayOps, setupPartner } from './gateway'
import { httpTransport } from './http'
import { type Measured, measure } from './measure'
import {
  findWorkerd,
  maxBetween,
  medianBetween,
  now,
  peakRss,
  procAvailable,
  type RssTimeline,
  sampleAt,
  startRssSampler,
} from './memory'
import type { BenchOptions } from './options'
import { startPassThrough } from './passthrough'
import type { Stack } from './stack'
import { type Summary, summarize } from './stats'

/** The gateway's per-file limit ("10 MB" = 10 MiB, src/documents/validation.ts) and a typical small scan. */
export const UPLOAD_SIZES = [
  { label: '100 KiB', bytes: 100 * 1024 },
  { label: '10 MiB', bytes: 10 * 1024 * 1024 },
] as const

/** Uploads per size and side before the timed ones: not timed, but inside the memory window. */
export const UPLOAD_WARMUP = 2
/** The concurrent run: this many submissions at once, each of two 10 MiB files (the 20 MiB total limit), this many times. */
export const CONCURRENT_UPLOADS = 3
export const CONCURRENT_FILES = 2
export const CONCURRENT_ROUNDS = 2
/** How often the sampler reads VmRSS. */
export const SAMPLE_INTERVAL_MS = 2
/**
 * The throughput comparison: rounds in which the gateway, a pass-through Worker, a hashing one and
 * the sandbox itself each take a turn of this many 10 MiB uploads (the order rotating), so each side meets the
 * same moments of the machine (Node's collector, the scheduler) and no side runs colder than another.
 */
export const THROUGHPUT_ROUNDS = 6
export const THROUGHPUT_PER_TURN = 3
export const THROUGHPUT_SIDES = ['gateway', 'passthrough', 'hashing', 'direct'] as const
export type ThroughputSide = (typeof THROUGHPUT_SIDES)[number]
/** Idle time before a phase (its baseline) and after it (what stays resident). */
export const IDLE_WINDOW_MS = 250

/** One process's resident memory over one phase, KiB. */
export type ProcessMemory = {
  /** Median VmRSS over the idle window just before the phase's first upload. */
  baselineKib: number
  /** Highest VmRSS sampled from the first upload's start (warm-up included) to the last one's end. */
  peakKib: number
  /** The kernel's peak (VmHWM) over the same time, reset just before the first upload; null if it cannot be reset. */
  hwmKib: number | null
  /** Median VmRSS over the idle window after the last upload: what the process kept. */
  afterKib: number
  /** Each upload in order, the UPLOAD_WARMUP untimed ones first: VmRSS just before it started and the highest sample during it. */
  uploads: { warmup: boolean; beforeKib: number; peakKib: number }[]
  /** Samples taken from the first upload's start to the last one's end. */
  samples: number
}

export type ProcessName = 'workerd' | 'node'

export type UploadPhase = Measured & {
  warmup: number
  /** File bytes per second over the timed uploads (1 in flight), MiB/s. */
  mibPerSec: number
  /** null where /proc is not available (not Linux) or workerd was not found. */
  memory: Partial<Record<ProcessName, ProcessMemory>> | null
}

export type UploadSize = {
  label: string
  bytes: number
  /** POST /v1/users/{user_id}/documents through the gateway over HTTP. */
  gateway: UploadPhase & { keyCacheWarm: boolean }
  /** POST /v1/enterprise/ddq/upload straight to the sFOX sandbox. */
  direct: UploadPhase
}

/** One side of the interleaved rounds: each upload's time, and MiB/s at the median one and over all. */
export type ThroughputFigures = Summary & { mibPerSecP50: number; mibPerSecMean: number }
export type UploadThroughput = {
  bytes: number
  rounds: number
  perTurn: number
  sides: Record<ThroughputSide, ThroughputFigures>
}

/** Submissions in flight together through the gateway: workerd's memory while they are. */
export type ConcurrentUploads = {
  inFlight: number
  rounds: number
  /** Submissions answered 503 and sent again. */
  retries: number
  /** File bytes of one submission. */
  bytesEach: number
  elapsedMs: number
  /** File bytes per second over all of them, MiB/s. */
  mibPerSec: number
  /** null where /proc is not available or workerd was not found. */
  workerd: { baselineKib: number; peakKib: number; hwmKib: number | null } | null
}

export type UploadResults = {
  count: number
  sizes: UploadSize[]
  /** The 10 MiB upload in interleaved rounds: what the throughput target judges. */
  throughput: UploadThroughput
  concurrent: ConcurrentUploads
  sampling: {
    available: boolean
    workerdPid: number | null
    /** workerd's VmRSS right after the stack started, before any phase of the run, KiB. */
    workerdAtStartKib: number | null
    nodePid: number
    intervalMs: number
    idleWindowMs: number
    /** Whether VmHWM could be reset (clear_refs) for each process. */
    hwm: Record<ProcessName, boolean>
  }
}

type Progress = (line: string) => void
type Span = { start: number; end: number }
type Window = {
  idleFrom: number
  first: number
  spans: Span[]
  last: number
  idleTo: number
  hwm: Partial<Record<ProcessName, number | null>>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const memoryOf = (timeline: RssTimeline, name: ProcessName, w: Window): ProcessMemory => ({
  baselineKib: medianBetween(timeline, name, w.idleFrom, w.first),
  peakKib: maxBetween(timeline, name, w.first, w.last),
  hwmKib: w.hwm[name] ?? null,
  afterKib: medianBetween(timeline, name, w.last, w.idleTo),
  uploads: w.spans.map(({ start, end }, i) => ({
    warmup: i < UPLOAD_WARMUP,
    beforeKib: sampleAt(timeline, name, start),
    peakKib: maxBetween(timeline, name, start, end),
  })),
  samples: timeline.at.filter((at) => at >= w.first && at <= w.last).length,
})

/**
 * KYC document uploads, through the gateway and straight to the sFOX sandbox, for each size: a
 * partner of its own connected to the sandbox, an end user the sandbox knows for each account,
 * sequential uploads (1 in flight; `count` timed after UPLOAD_WARMUP untimed). The smaller size
 * runs first, so the 10 MiB baseline is not raised by the larger uploads' leftovers. Meanwhile a
 * worker thread samples the resident memory (VmRSS) of workerd (the gateway) and of this Node
 * process (load generator, sandboxes, libSQL server), and each phase resets and reads the kernel's
 * own peak (VmHWM) as a check on the sampling.
 */
export const runUploads = async (
  stack: Stack,
  options: BenchOptions,
  progress: Progress,
  workerdAtStartKib: number | null,
): Promise<UploadResults> => {
  const { libsql, sfox } = stack
  const count = options.uploadsN
  const http = httpTransport('gateway', stack.gateway.url)
  const direct = httpTransport('sfox', sfox.url)
  const [gatewayAccount, directAccount] = [await sfox.newAccount(), await sfox.newAccount()]
  const partner = await setupPartner(
    http,
    stack.gateway.adminToken,
    { sfox: { url: sfox.url, apiKey: gatewayAccount.api_key } },
    'Bench uploads partner',
  )
  const userId = `bench-user-${randomBytes(4).toString('hex')}`
  await sfox.addUser(userId, gatewayAccount.account)
  await sfox.addUser(userId, directAccount.account)
  let key = await partner.issueKey()
  const gw = gatewayOps(http, () => key)

  const available = procAvailable()
  const { pid: workerdPid, found } = findWorkerd()
  if (available && found !== 1)
    progress(`uploads: expected one workerd child process, found ${found}; no workerd memory figures`)
  const pids: Partial<Record<ProcessName, number>> = available
    ? { node: process.pid, ...(workerdPid ? { workerd: workerdPid } : {}) }
    : {}
  const peaks = Object.entries(pids).map(([name, pid]) => [name as ProcessName, peakRss(pid)] as const)
  const hwmResettable: Record<ProcessName, boolean> = { workerd: false, node: false }
  const sampler = available ? await startRssSampler(pids as Record<string, number>, SAMPLE_INTERVAL_MS) : null

  /** Idle window, uploads (warm-up, then `count` timed), idle window; the memory windows are cut from the timeline afterwards. */
  const phase = async (upload: () => Promise<unknown>, bytes: number) => {
    const idleFrom = now()
    await sleep(IDLE_WINDOW_MS)
    const first = now()
    for (const [name, peak] of peaks) hwmResettable[name] = peak.reset()
    // One at a time, so the spans are in order: the warm-up ones, then the timed ones.
    const spans: Span[] = []
    const spanned = async () => {
      const start = now()
      await upload()
      spans.push({ start, end: now() })
    }
    for (let i = 0; i < UPLOAD_WARMUP; i++) await spanned()
    const measured = await measure(libsql, count, 1, spanned)
    const last = spans.at(-1)!.end
    const hwm = Object.fromEntries(peaks.map(([name, peak]) => [name, peak.read()]))
    await sleep(IDLE_WINDOW_MS)
    const window: Window = { idleFrom, first, spans, last, idleTo: now(), hwm }
    return {
      measured: {
        ...measured,
        warmup: UPLOAD_WARMUP,
        mibPerSec: (bytes * count) / (1024 * 1024) / (measured.elapsedMs / 1000),
      },
      window,
    }
  }

  try {
    const runs = []
    for (const size of UPLOAD_SIZES) {
      const doc = pdfOf(size.bytes)
      progress(
        `uploads: ${size.label}, ${UPLOAD_WARMUP} + ${count} through the gateway, then straight to the sFOX sandbox (1 in flight)`,
      )
      // As in the op phases: a new key, already in the key cache when the phase starts.
      key = await partner.issueKey()
      await gw.prime()
      const primed = performance.now()
      const gateway = await phase(await gatewayUpload(http, () => key, userId, doc), size.bytes)
      const keyCacheWarm = performance.now() - primed < stack.gateway.keyCacheSeconds * 1000
      const sandbox = await phase(await directUpload(direct, directAccount.api_key, userId, doc), size.bytes)
      runs.push({ size, gateway: { ...gateway, keyCacheWarm }, direct: sandbox })
    }

    // Throughput in turns (after the memory phases, whose windows must hold one side each). The
    // pass-through Worker's workerd starts only now: the memory sampler watches the gateway's alone.
    const big = pdfOf(10 * 1024 * 1024)
    progress(
      `uploads: 10 MiB throughput, ${THROUGHPUT_ROUNDS} rounds of ${THROUGHPUT_PER_TURN} per side (gateway, a pass-through Worker, a hashing one, direct), in turns`,
    )
    const passThrough = await startPassThrough(stack)
    const hashing = await startPassThrough(stack, { hash: true })
    const uploadOf: Record<ThroughputSide, () => Promise<unknown>> = {
      gateway: await gatewayUpload(http, () => key, userId, big),
      passthrough: await directUpload(
        httpTransport('passthrough', passThrough.url),
        directAccount.api_key,
        userId,
        big,
      ),
      hashing: await directUpload(httpTransport('hashing', hashing.url), directAccount.api_key, userId, big),
      direct: await directUpload(direct, directAccount.api_key, userId, big),
    }
    key = await partner.issueKey()
    await gw.prime()
    for (const side of THROUGHPUT_SIDES) for (let i = 0; i < UPLOAD_WARMUP; i++) await uploadOf[side]()
    const times = Object.fromEntries(THROUGHPUT_SIDES.map((side) => [side, [] as number[]])) as Record<
      ThroughputSide,
      number[]
    >
    for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
      for (let turn = 0; turn < THROUGHPUT_SIDES.length; turn++) {
        const side = THROUGHPUT_SIDES[(round + turn) % THROUGHPUT_SIDES.length]!
        for (let i = 0; i < THROUGHPUT_PER_TURN; i++) {
          const start = performance.now()
          await uploadOf[side]()
          times[side].push(performance.now() - start)
        }
      }
    }
    await passThrough.close()
    await hashing.close()
    const mibOf = (ms: number) => big.bytes.length / (1024 * 1024) / (ms / 1000)
    const figuresOf = (ms: number[]): ThroughputFigures => {
      const summary = summarize(
        ms,
        ms.reduce((sum, x) => sum + x, 0),
      )
      return { ...summary, mibPerSecP50: mibOf(summary.p50), mibPerSecMean: mibOf(summary.mean) }
    }
    const throughput: UploadThroughput = {
      bytes: big.bytes.length,
      rounds: THROUGHPUT_ROUNDS,
      perTurn: THROUGHPUT_PER_TURN,
      sides: Object.fromEntries(THROUGHPUT_SIDES.map((side) => [side, figuresOf(times[side])])) as Record<
        ThroughputSide,
        ThroughputFigures
      >,
    }

    // Last, so the single uploads' figures are not raised by it: the 128 MB isolate check.
    const docs = Array.from({ length: CONCURRENT_FILES }, (_, i) => pdfOf(10 * 1024 * 1024, `document-${i}.pdf`))
    const bytesEach = docs.reduce((sum, doc) => sum + doc.bytes.length, 0)
    progress(
      `uploads: ${CONCURRENT_UPLOADS} submissions of ${CONCURRENT_FILES} x 10 MiB at once through the gateway, ${CONCURRENT_ROUNDS} times`,
    )
    key = await partner.issueKey()
    await gw.prime()
    const submit = await gatewayUpload(http, () => key, userId, ...docs)
    const idleFrom = now()
    await sleep(IDLE_WINDOW_MS)
    const first = now()
    for (const [name, peak] of peaks) hwmResettable[name] = peak.reset()
    // A 503 (the database briefly unavailable: the libSQL server shares this Node process with the
    // sandbox hashing 60 MiB) is retried as the API says, and counted.
    let retries = 0
    const submitRetrying = async (): Promise<unknown> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await submit()
        } catch (error) {
          if (attempt >= 3 || !String(error).includes('got 503')) throw error
          retries += 1
          await sleep(1000)
        }
      }
    }
    for (let round = 0; round < CONCURRENT_ROUNDS; round++)
      await Promise.all(Array.from({ length: CONCURRENT_UPLOADS }, () => submitRetrying()))
    const last = now()
    const concurrentHwm = Object.fromEntries(peaks.map(([name, peak]) => [name, peak.read()]))
    await sleep(IDLE_WINDOW_MS)
    const concurrentWindow: Window = {
      idleFrom,
      first,
      spans: [{ start: first, end: last }],
      last,
      idleTo: now(),
      hwm: concurrentHwm,
    }
    const timeline = sampler ? await sampler.stop() : null
    const memory = (w: Window) =>
      timeline
        ? Object.fromEntries(Object.keys(pids).map((name) => [name, memoryOf(timeline, name as ProcessName, w)]))
        : null
    const concurrentMemory = timeline && pids.workerd ? memoryOf(timeline, 'workerd', concurrentWindow) : null
    const elapsedMs = last - first
    return {
      count,
      throughput,
      concurrent: {
        inFlight: CONCURRENT_UPLOADS,
        rounds: CONCURRENT_ROUNDS,
        retries,
        bytesEach,
        elapsedMs,
        mibPerSec: (bytesEach * CONCURRENT_UPLOADS * CONCURRENT_ROUNDS) / (1024 * 1024) / (elapsedMs / 1000),
        workerd: concurrentMemory && {
          baselineKib: concurrentMemory.baselineKib,
          peakKib: concurrentMemory.peakKib,
          hwmKib: concurrentMemory.hwmKib,
        },
      },
      sizes: runs.map(({ size, gateway, direct: sandbox }) => ({
        label: size.label,
        bytes: size.bytes,
        gateway: { ...gateway.measured, keyCacheWarm: gateway.keyCacheWarm, memory: memory(gateway.window) },
        direct: { ...sandbox.measured, memory: memory(sandbox.window) },
      })),
      sampling: {
        available,
        workerdPid,
        workerdAtStartKib,
        nodePid: process.pid,
        intervalMs: SAMPLE_INTERVAL_MS,
        idleWindowMs: IDLE_WINDOW_MS,
        hwm: hwmResettable,
      },
    }
  } finally {
    // After a failure too; after success this answers the timeline already read.
    if (sampler) await sampler.stop().catch(() => undefined)
  }
}
