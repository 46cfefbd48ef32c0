import { readdirSync, readFileSync } from 'node:fs'
import { usPerRequest } from './table'

/**
 * workerd's CPU time from /proc: the first field of a thread's schedstat is the nanoseconds it has
 * spent on a CPU, exact for a thread that is not running at the moment it is read (workerd's
 * threads sleep in epoll between requests). Linux only; elsewhere every reading is empty.
 */
export type ThreadCpu = Map<number, { comm: string; ns: number }>

export const threadCpu = (pid: number | null): ThreadCpu => {
  const out: ThreadCpu = new Map()
  if (pid === null) return out
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
        const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
        out.set(Number(tid), { comm, ns })
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return out
}

/**
 * workerd's event-loop thread: the thread called "workerd" that has used the most CPU. It runs
 * every isolate's JavaScript and all of workerd's own I/O; V8's platform threads ("V8
 * DefaultWorke…", concurrent GC and compilation) and an inspector's sampler are the others.
 */
export const eventLoopTid = (pid: number | null) => {
  const rows = [...threadCpu(pid).entries()].filter(([, t]) => t.comm === 'workerd').sort((a, b) => b[1].ns - a[1].ns)
  return rows[0]?.[0] ?? null
}

/**
 * The CPU workerd's threads spent between two readings, ms: all threads, the event-loop thread
 * ("workerd"; V8's platform threads and an inspector's sampler, "v8:ProfEvntProc", are the others),
 * and a line per request naming the busiest four.
 */
export const cpuBetween = (before: ThreadCpu, after: ThreadCpu, requests: number) => {
  const rows = [...after.entries()]
    .map(([tid, a]) => ({ tid, comm: a.comm, ms: (a.ns - (before.get(tid)?.ns ?? 0)) / 1e6 }))
    .filter((r) => r.ms > 0.05)
    .sort((a, b) => b.ms - a.ms)
  const total = rows.reduce((sum, r) => sum + r.ms, 0)
  const main = rows.find((r) => r.comm === 'workerd')?.ms ?? 0
  return {
    total,
    main,
    text: `workerd CPU: all threads ${usPerRequest(total, requests)}, event-loop thread ${usPerRequest(main, requests)} (${rows
      .slice(0, 4)
      .map((r) => `${r.comm}#${r.tid} ${((1000 * r.ms) / requests).toFixed(0)}`)
      .join(', ')})`,
  }
}

const schedstatNs = (pid: number, tid: number) =>
  Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
const allThreadsNs = (pid: number) => [...threadCpu(pid).values()].reduce((sum, t) => sum + t.ns, 0)

/** CPU per request of one workerd, µs: its event-loop thread per request, and all its threads per phase. */
export type CpuSample = {
  /** The event-loop thread's CPU in each request's window (from its start to the next one's start). */
  loopUs: number[]
  /** Mean per request over the phase, event-loop thread and all threads (V8's GC and compiler threads too). */
  loopMeanUs: number
  allMeanUs: number
}

/**
 * The windows of one workerd's requests: each request's runs from its start to the next one's start
 * (the last one's to a short pause after it), so work a request leaves behind (its response's last
 * bytes, ctx.waitUntil) is charged to it, and the windows together hold the whole phase: nothing is
 * lost between them. Only that workerd's own threads are read; Node reading /proc costs it nothing.
 */
const requestWindows = (pid: number) => {
  const tid = eventLoopTid(pid)
  if (tid === null) throw new Error(`cpu: workerd ${pid} has no event-loop thread in /proc`)
  const allBefore = allThreadsNs(pid)
  const loopBefore = schedstatNs(pid, tid)
  let last = loopBefore
  const loopUs: number[] = []
  const close = () => {
    const now = schedstatNs(pid, tid)
    loopUs.push((now - last) / 1000)
    last = now
  }
  return {
    /** Request `i` starts: the window of the one before it closes here. */
    starting: (i: number) => {
      if (i > 0) close()
    },
    /** After the last request and the pause. */
    sample: (count: number): CpuSample => {
      close()
      return {
        loopUs,
        loopMeanUs: (last - loopBefore) / 1000 / count,
        allMeanUs: (allThreadsNs(pid) - allBefore) / 1000 / count,
      }
    },
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `count` requests one at a time and reads the CPU workerd `pid` spent on each (see requestWindows). */
export const cpuPerRequest = async (
  pid: number,
  count: number,
  request: (i: number) => Promise<unknown>,
  settleMs = 50,
): Promise<CpuSample> => {
  const windows = requestWindows(pid)
  for (let i = 0; i < count; i++) {
    windows.starting(i)
    await request(i)
  }
  await pause(settleMs)
  return windows.sample(count)
}

/**
 * Like cpuPerRequest for two workerds at once, taking turns `block` requests at a time (`a` first in
 * each turn, or `b` when `bFirst`): request i of one side runs at most a block's time from request i
 * of the other, so whatever slows the machine for a while slows both.
 */
export const cpuPerRequestPaired = async (
  pids: { a: number; b: number },
  count: number,
  requests: { a: (i: number) => Promise<unknown>; b: (i: number) => Promise<unknown> },
  bFirst: boolean,
  settleMs = 50,
  block = 1,
): Promise<{ a: CpuSample; b: CpuSample }> => {
  const a = { windows: requestWindows(pids.a), request: requests.a }
  const b = { windows: requestWindows(pids.b), request: requests.b }
  const turns = bFirst ? [b, a] : [a, b]
  for (let i = 0; i < count; i += block) {
    for (const side of turns) {
      for (let j = i; j < Math.min(count, i + block); j++) {
        side.windows.starting(j)
        await side.request(j)
      }
    }
  }
  await pause(settleMs)
  return { a: a.windows.sample(count), b: b.windows.sample(count) }
}
