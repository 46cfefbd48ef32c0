import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'

/** A clock both threads share: milliseconds since the epoch, sub-millisecond resolution. */
export const now = () => performance.timeOrigin + performance.now()

/** /proc is Linux's; elsewhere the bench runs without its memory figures. */
export const procAvailable = () => existsSync('/proc/self/status')

const parentOf = (pid: string): number | null => {
  try {
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return null // gone meanwhile
  }
}

const commOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return ''
  }
}

/**
 * The processes called `name` among the descendants of `root` (this process by default). Miniflare
 * spawns the `workerd` binary as a direct child of Node; walking the whole subtree also finds it if
 * a version ever puts a wrapper in between, and never picks up a workerd of another process tree
 * (tests or `npm run dev` running on the same machine).
 */
export const findDescendants = (name: string, root = process.pid): number[] => {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const ppid = parentOf(entry)
    if (ppid !== null) children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
  }
  const found: number[] = []
  const queue = [...(children.get(root) ?? [])]
  while (queue.length) {
    const pid = queue.shift()!
    if (commOf(pid) === name) found.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return found
}

const statusKib = (pid: number, field: 'VmRSS' | 'VmHWM'): number | null => {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : null
  } catch {
    return null
  }
}

/** The gateway's workerd: null unless exactly one runs under this process (or there is no /proc). */
export const findWorkerd = (): { pid: number | null; found: number } => {
  const pids = procAvailable() ? findDescendants('workerd') : []
  return { pid: pids.length === 1 ? pids[0]! : null, found: pids.length }
}

/** VmRSS of a process now, KiB; null if it cannot be read. */
export const residentKib = (pid: number) => statusKib(pid, 'VmRSS')

/**
 * The kernel's own peak resident set (VmHWM), reset to the current RSS by writing 5 to clear_refs
 * (Linux 4.0+, own processes). Unlike sampling it misses no spike, however short. `reset` answers
 * false where the kernel refuses; `read` then answers null.
 */
export const peakRss = (pid: number) => {
  let resetOk = false
  return {
    reset: () => {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5')
        resetOk = true
      } catch {
        resetOk = false
      }
      return resetOk
    },
    read: () => (resetOk ? statusKib(pid, 'VmHWM') : null),
  }
}

/** VmRSS of each process (KiB) at each sample time (`now()` clock); NaN where a read failed. */
export type RssTimeline = { intervalMs: number; at: number[]; kib: Record<string, number[]> }

// Plain JavaScript (eval'd: a worker thread does not inherit tsx's loader). It samples until the
// main thread sets the flag; Atomics.wait sleeps between samples and wakes at once on stop.
const SAMPLER = `
const { workerData, parentPort } = require('node:worker_threads')
const { readFileSync } = require('node:fs')
const { pids, intervalMs, control } = workerData
const flag = new Int32Array(control)
const rss = (pid) => {
  try {
    const m = /^VmRSS:\\s+(\\d+) kB/m.exec(readFileSync('/proc/' + pid + '/status', 'utf8'))
    return m ? Number(m[1]) : NaN
  } catch {
    return NaN
  }
}
const at = []
const kib = Object.fromEntries(Object.keys(pids).map((name) => [name, []]))
let first = true
while (Atomics.load(flag, 0) === 0) {
  at.push(performance.timeOrigin + performance.now())
  for (const [name, pid] of Object.entries(pids)) kib[name].push(rss(pid))
  if (first) (parentPort.postMessage({ ready: true }), (first = false))
  Atomics.wait(flag, 0, 0, intervalMs)
}
parentPort.postMessage({ at, kib })
`

/**
 * Samples VmRSS of the named processes every `intervalMs` from a worker thread, so neither the
 * load generator nor the sandboxes on the main event loop delay a sample (a 10 MB multipart parse
 * would), and the sampling costs them nothing but a /proc read per process and interval.
 * Resolves once the first sample is taken.
 */
export const startRssSampler = async (pids: Record<string, number>, intervalMs = 2) => {
  const control = new SharedArrayBuffer(4)
  const worker = new Worker(SAMPLER, { eval: true, workerData: { pids, intervalMs, control } })
  // The worker posts twice: after its first sample, and its timeline once told to stop.
  const messages: unknown[] = []
  let waiter: { resolve: (message: unknown) => void; reject: (error: Error) => void } | null = null
  let failure: Error | null = null
  worker.on('message', (message) => {
    if (waiter) waiter.resolve(message)
    else messages.push(message)
    waiter = null
  })
  worker.on('error', (error) => {
    failure = error
    waiter?.reject(error)
    waiter = null
  })
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      if (messages.length) return resolve(messages.shift())
      if (failure) return reject(failure)
      waiter = { resolve, reject }
    })
  await next()
  let stopped: Promise<RssTimeline> | null = null
  const stop = async (): Promise<RssTimeline> => {
    const flag = new Int32Array(control)
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
    const { at, kib } = (await next()) as Omit<RssTimeline, 'intervalMs'>
    await worker.terminate()
    return { intervalMs, at, kib }
  }
  /** Ends the sampling and answers every sample; a second call answers the same. */
  return { stop: () => (stopped ??= stop()) }
}

/** The median of the values that are numbers (NaN if none): the lower middle for an even count. */
export const median = (values: number[]) => {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b)
  return sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : Number.NaN
}
const max = (values: number[]) => {
  const known = values.filter((v) => !Number.isNaN(v))
  return known.length ? Math.max(...known) : Number.NaN
}

/** The samples of one process taken within [from, to]. */
export const samplesBetween = (timeline: RssTimeline, name: string, from: number, to: number) =>
  (timeline.kib[name] ?? []).filter((_, i) => timeline.at[i]! >= from && timeline.at[i]! <= to)

export const medianBetween = (timeline: RssTimeline, name: string, from: number, to: number) =>
  median(samplesBetween(timeline, name, from, to))
export const maxBetween = (timeline: RssTimeline, name: string, from: number, to: number) =>
  max(samplesBetween(timeline, name, from, to))

/** The last sample of one process taken at or before `t` (NaN if none). */
export const sampleAt = (timeline: RssTimeline, name: string, t: number) => {
  const values = timeline.kib[name] ?? []
  for (let i = timeline.at.length - 1; i >= 0; i--) if (timeline.at[i]! <= t) return values[i] ?? Number.NaN
  return Number.NaN
}
