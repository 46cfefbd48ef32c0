// The JS heap of workerd's isolates, read through workerd's inspector (Chrome DevTools Protocol):
// V8's own figures (Runtime.getHeapUsage) before and after a forced full GC
// (HeapProfiler.takeHeapSnapshot, which starts with a full GC). Nothing here enables the Runtime or Console domains, so the
// session never makes V8 keep console messages for it.
import { type CdpSession, connectCdp, type InspectorTarget, listTargets } from './profile/inspector'

/** A CDP session on one inspector target. */
const connect = (port: number, target: InspectorTarget): Promise<CdpSession> =>
  connectCdp(target.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/${target.id}`)

/** One isolate's heap, bytes: V8's used and total (reserved) heap, and used again after a full GC. */
export type IsolateHeap = {
  /** The inspector target's id (`core:user:<name>` is the Worker; the others are Miniflare's). */
  target: string
  usedBytes: number
  totalBytes: number
  /** Used after a forced full GC (the one a heap snapshot starts with); null with `gc: false`. */
  afterGcBytes: number | null
}

const usage = (cdp: CdpSession) => cdp.send<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage')

/**
 * A full GC in the isolate. workerd never answers HeapProfiler.collectGarbage (V8 runs it as a
 * posted task, which workerd's platform does not pump for the inspector), but a heap snapshot
 * starts with V8's full, all-available-garbage collection, synchronously: take one and drop its
 * chunks (they stream as events, which this session ignores).
 */
const fullGc = (cdp: CdpSession) => cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false })

// workerd's inspector serves one session per isolate: a second connection closes the first. So
// every reading of this module waits for the one before it.
let queue: Promise<unknown> = Promise.resolve()
const oneAtATime = <T>(fn: () => Promise<T>): Promise<T> => {
  const run = queue.then(fn, fn)
  queue = run.catch(() => {})
  return run
}

/**
 * `gc: false` reads the heap as it is, without the forced GC (default true). `keepConsole: true`
 * keeps V8's inspector console buffer in the after-GC figure (default: discarded first).
 */
export type HeapOptions = { gc?: boolean; keepConsole?: boolean }

const readOne = (port: number, target: InspectorTarget, options: HeapOptions): Promise<IsolateHeap> =>
  oneAtATime(async () => {
    const cdp = await connect(port, target)
    try {
      const before = await usage(cdp)
      let afterGcBytes: number | null = null
      if (options.gc !== false) {
        // With an inspector, V8 keeps the isolate's last 1,000 console messages (with their
        // arguments) for a session that may enable Runtime later: a buffer only an inspector
        // creates (~300 KiB of request log lines here). Dropped, so it never reads as the Worker's.
        if (options.keepConsole !== true) await cdp.send('Runtime.discardConsoleEntries')
        await fullGc(cdp)
        afterGcBytes = (await usage(cdp)).usedSize
      }
      return { target: target.id, usedBytes: before.usedSize, totalBytes: before.totalSize, afterGcBytes }
    } finally {
      cdp.close()
    }
  })

/**
 * The gateway Worker's isolate heap in a Miniflare-started workerd whose inspector listens on
 * `inspectorPort` (start it with `overrides: { inspectorPort }`, e.g. `await freePort()` from
 * bench/profile/inspector.ts). Used bytes first, then (unless `gc: false`) used bytes after a forced
 * full GC (V8's inspector console buffer dropped first). In workerd the Worker's fetch handler, its
 * Durable Objects, its queue consumer and its cron share this one isolate. Each call opens and
 * closes its own inspector session; calls wait for each other (one session per isolate).
 */
export const readGatewayHeap = async (inspectorPort: number, options: HeapOptions = {}): Promise<IsolateHeap> => {
  const { user } = await listTargets(inspectorPort)
  return readOne(inspectorPort, user, options)
}

/** Every isolate's heap (the Worker's first, then Miniflare's own: entry, queue broker, …). */
export const readAllHeaps = async (inspectorPort: number, options: HeapOptions = {}): Promise<IsolateHeap[]> => {
  const { user, others } = await listTargets(inspectorPort)
  const heaps: IsolateHeap[] = []
  for (const target of [user, ...others]) heaps.push(await readOne(inspectorPort, target, options))
  return heaps
}

/**
 * A heap snapshot of the Worker's isolate, summed per (node type, constructor or string name):
 * self size and count. Diffing two of them names what grows. Slow (seconds) on a big heap.
 */
export const heapSummary = async (inspectorPort: number): Promise<Map<string, { count: number; bytes: number }>> => {
  const { user } = await listTargets(inspectorPort)
  const chunks: string[] = []
  await oneAtATime(async () => {
    const cdp = await connect(inspectorPort, user)
    try {
      cdp.onEvent((method, params) => {
        if (method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(params.chunk as string)
      })
      await cdp.send('Runtime.discardConsoleEntries')
      await fullGc(cdp)
    } finally {
      cdp.close()
    }
  })
  const snapshot = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
    nodes: number[]
    strings: string[]
  }
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const width = fields.length
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')]
  const summary = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]!]!
    const rawName = snapshot.strings[snapshot.nodes[i + nameAt]!] ?? ''
    // Strings and code are named by their contents: group them by type alone, plus a short prefix.
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string'
        ? `${type}: ${rawName.slice(0, 40)}`
        : `${type}: ${rawName.slice(0, 80)}`
    const entry = summary.get(name) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += snapshot.nodes[i + sizeAt]!
    summary.set(name, entry)
  }
  return summary
}
