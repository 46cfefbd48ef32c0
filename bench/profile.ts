/**
 * Where the Worker spends CPU on its hot path: V8's sampling CPU profiler, through workerd's
 * inspector, while driving one flow at a time (1 in flight) against the built Worker in Miniflare.
 *
 *   npx tsx bench/profile.ts [--get-n 2000] [--create-n 1000] [--warmup 200] [--interval-us 100]
 *                            [--top 25] [--out <dir>] [--flows get,create,confirm,resend] [--split 0.25] [--ab 0] [--perf]
 *
 * workerd's clock stands still while JavaScript runs, so the Worker cannot time itself; V8's sampler
 * runs on a thread of its own, in real time. Per flow (GET /v1/transfers/{id}; sFOX POST
 * /v1/transfers, a fresh transfer_id each; confirm with the right code, a pending transfer each;
 * resend, up to the partner's resend limit per transfer; --create-n sets the count of all three):
 *   1. a baseline without any inspector session: wall time and workerd's CPU time per request, per
 *      thread, from /proc (the ground truth the profile is checked against);
 *   2. the profiled pass, the Worker's isolate only: top functions by self and by inclusive time
 *      (mapped through the bundle's source map to the original file and line), our own functions by
 *      inclusive time, self and inclusive time per area (hono, zod, drizzle-orm, @libsql/*,
 *      src/<file>, native builtins, crypto, GC); areas come from esbuild's `// <module>` markers;
 *   3. a shorter pass (--split × the count; 0 skips it) profiling every isolate in workerd at once:
 *      how the JavaScript on workerd's thread splits between the Worker and Miniflare's own workers
 *      (its entry worker, and the outbound proxy every subrequest goes through), which production
 *      does not run. Each profiled isolate adds a sampler thread, so absolute figures there inflate.
 * --perf: one more pass per flow (no inspector session) with Linux perf sampling workerd's
 * event-loop thread: native time by symbol and by component (V8 JIT code, V8 runtime, kj, capnp, workerd
 * API, SQLite, libc, kernel), i.e. what the V8 profile cannot see. Needs `perf` and permission.
 * Subrequests go straight out, as in production: the harness (test/helpers/worker.ts) turns off the
 * proxy worker Miniflare would otherwise put in front of them.
 * --ab N: afterwards, runs without any profiler of the bundle as built, of patched copies of it (no
 * request log line, no rate-limiter call, no secure headers, all three; one for @libsql's per-stream
 * close error; patched in a temporary copy,
 * never in the repo): all up at once (a workerd
 * each), taking turns in blocks of 20 requests, about N requests per flow per variant: workerd's
 * CPU and wall per request, and each variant's change with ± 2 standard errors of paired blocks.
 * The tables go to stdout, progress to stderr.
 *
 * The raw profiles, the bundle and its map go to --out (default: a new temporary directory); Chrome
 * DevTools' Performance panel (or speedscope) opens the .cpuprofile files.
 *
 * A lighter stack than the bench's: libSQL server, sFOX sandbox and the Worker only (no QI sandbox,
 * no callback receiver, no webhook endpoint registered, so creates enqueue no deliveries). Same
 * wrangler.toml settings and the bench's bindings (RATE_LIMIT out of reach, the limiter still called
 * per request). Numbers move with the machine's load: compare within one run.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import WebSocket from 'ws'
import { migrateDatabase } from '../db/migrate'
import { startLibsqlServer } from '../sandbox/libsql-server/server'
import { buildWorker } from '../test/helpers/build'
import { startSfox } from '../test/helpers/sfox'
import { startWorker, workerOptionsFromConfig } from '../test/helpers/worker'
import { BENCH_RESEND_LIMIT, gatewayOps, setupPartner } from './gateway'
import { httpTransport, type Transport } from './http'
import { eventLoopTid, threadCpu, type ThreadCpu } from './cpu'
import { findDescendants } from './memory'
import { benchBindings, FIXED_OTP, withoutWranglerChatter } from './stack'

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const args = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback
}
const options = {
  getN: Number(option('get-n', '2000')),
  createN: Number(option('create-n', '1000')),
  warmup: Number(option('warmup', '200')),
  intervalUs: Number(option('interval-us', '100')),
  top: Number(option('top', '25')),
  out: option('out', ''),
  flows: option('flows', 'get,create').split(','),
  split: Number(option('split', '0.25')),
  ab: Number(option('ab', '0')),
  perf: args.includes('--perf'),
}

const root = resolve(import.meta.dirname, '..')
const started = performance.now()
const progress = (line: string) => process.stderr.write(`[profile ${((performance.now() - started) / 1000).toFixed(1)} s] ${line}\n`)
const usPerReq = (ms: number, requests: number) => `${((1000 * ms) / requests).toFixed(0).padStart(5)} µs/req`

// ---------------------------------------------------------------------------------------------
// Chrome DevTools Protocol over the inspector's WebSocket
// ---------------------------------------------------------------------------------------------

const freePort = () =>
  new Promise<number>((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })

type CdpSession = { send: <T = any>(method: string, params?: Record<string, unknown>) => Promise<T>; close: () => void }

const connectCdp = async (url: string): Promise<CdpSession> => {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1024 * 1024 * 1024 })
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok())
    ws.once('error', fail)
  })
  let nextId = 1
  const pending = new Map<number, { ok: (v: any) => void; fail: (e: Error) => void }>()
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } }
    if (message.id === undefined) return // events (console messages etc.)
    const waiter = pending.get(message.id)
    if (!waiter) return
    pending.delete(message.id)
    if (message.error) waiter.fail(new Error(`CDP: ${message.error.message}`))
    else waiter.ok(message.result)
  })
  ws.on('close', () => {
    for (const waiter of pending.values()) waiter.fail(new Error('CDP: inspector connection closed'))
    pending.clear()
  })
  return {
    send: (method, params = {}) =>
      new Promise((ok, fail) => {
        const id = nextId++
        pending.set(id, { ok, fail })
        ws.send(JSON.stringify({ id, method, params }))
      }),
    close: () => ws.close(),
  }
}

type InspectorTarget = { id: string; title: string; url?: string; webSocketDebuggerUrl?: string }

/**
 * workerd's inspector targets: the user Worker is `core:user:<name>` (the name is empty when
 * Miniflare gets none); the others (core:entry, strip-cf-connecting-ip, cache, queues) are
 * Miniflare's own workers, each an isolate of its own on the same thread.
 */
const listTargets = async (port: number): Promise<{ user: InspectorTarget; others: InspectorTarget[] }> => {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as InspectorTarget[]
  const user = targets.find((t) => t.id.startsWith('core:user:'))
  if (!user) throw new Error(`no inspector target for the Worker among: ${targets.map((t) => t.title).join(', ')}`)
  return { user, others: targets.filter((t) => t !== user) }
}

// ---------------------------------------------------------------------------------------------
// Mapping bundle positions to sources and areas
// ---------------------------------------------------------------------------------------------

type CallFrame = { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number }
type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }
type CpuProfile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/**
 * esbuild starts each module of the bundle with a `// <path>` comment line: the module a bundle
 * line belongs to is the last marker above it. Robust where a package's own source map points
 * elsewhere (drizzle-orm's says "../src/…").
 */
const moduleMarkers = (bundle: string) => {
  const starts: number[] = []
  const paths: string[] = []
  bundle.split('\n').forEach((line, i) => {
    const m = /^\/\/ ((?:node_modules|src|db)\/\S+)$/.exec(line)
    if (m) {
      starts.push(i) // 0-based, like the profile's lineNumber
      paths.push(m[1]!)
    }
  })
  return (line0: number): string | null => {
    let lo = 0
    let hi = starts.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (starts[mid]! <= line0) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found < 0 ? null : paths[found]!
  }
}

/**
 * @jridgewell/trace-mapping reads the source map (a transitive dependency, not the project's own, and
 * its types do not resolve under this tsconfig: loaded through require, typed here). Without it,
 * locations stay bundle positions; areas still come from the module markers.
 */
type TraceMap = object
type TraceMapping = {
  TraceMap: new (map: string) => TraceMap
  originalPositionFor: (map: TraceMap, needle: { line: number; column: number }) => { source: string | null; line: number | null }
}
const traceMapping = ((): TraceMapping | null => {
  try {
    return createRequire(import.meta.url)('@jridgewell/trace-mapping') as TraceMapping
  } catch {
    return null
  }
})()

type Mapped = { source: string | null; line: number; module: string | null }
type MapPosition = (cf: CallFrame) => Mapped

/** Bundle position → original file and line (source map) and bundled module (markers). */
const sourceMapper =
  (map: TraceMap | null, moduleAt: (line0: number) => string | null, bundleName: string): MapPosition =>
  (cf) => {
    const bundled = cf.url !== '' && cf.url.split('/').pop() === bundleName && cf.lineNumber >= 0
    const module = bundled ? moduleAt(cf.lineNumber) : null
    if (!map || !traceMapping || !bundled) return { source: null, line: cf.lineNumber + 1, module }
    const pos = traceMapping.originalPositionFor(map, { line: cf.lineNumber + 1, column: Math.max(cf.columnNumber, 0) })
    if (!pos.source) return { source: null, line: cf.lineNumber + 1, module }
    // "../../work/main/node_modules/hono/dist/hono-base.js" → "node_modules/hono/dist/hono-base.js"
    const absolute = pos.source.replace(/^(\.\.\/)+/, '/')
    let relative = absolute.startsWith(`${root}/`) ? absolute.slice(root.length + 1) : absolute.replace(/^.*?\/(node_modules|src|db)\//, '$1/')
    const pkg = module ? /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module)?.[1] : undefined
    if (relative.startsWith('node_modules/src/') && pkg) relative = `node_modules/${pkg}/${relative.slice('node_modules/'.length)}`
    return { source: relative, line: pos.line ?? cf.lineNumber + 1, module }
  }

const CRYPTO_NATIVE = /^(digest|sign|verify|importKey|exportKey|encrypt|decrypt|deriveBits|deriveKey|getRandomValues|randomUUID|timingSafeEqual|generateKey)$/
const JSON_NATIVE = /^(parse|stringify)$/
const META = new Set(['(root)', '(program)', '(idle)', '(garbage collector)'])

/** The area of a frame: a package, one of our files, or a V8/workerd bucket. */
const areaOf = (name: string, cf: CallFrame, mapped: Mapped): string => {
  if (name === '(garbage collector)') return 'GC'
  if (META.has(name)) return name
  const path = mapped.module ?? mapped.source
  if (path) {
    const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
    if (pkg) return pkg[1]!.startsWith('@libsql/') ? '@libsql/*' : pkg[1]!
    return path // src/… or db/…: one of our files
  }
  if (!cf.url) {
    if (JSON_NATIVE.test(name)) return 'JSON (native)'
    if (CRYPTO_NATIVE.test(name)) return 'crypto (native)'
    return 'native builtins (fetch, Request, Response, URL, console, …)'
  }
  return `other script (${cf.url})`
}

/** A coarser grouping of areas: our code per directory, packages as they are. */
const groupOf = (area: string): string => {
  if (area.startsWith('src/')) return `ours: ${area.split('/').slice(0, 2).join('/')}`
  if (area.startsWith('db/')) return 'ours: db/'
  return area
}

// ---------------------------------------------------------------------------------------------
// Profile analysis
// ---------------------------------------------------------------------------------------------

/**
 * Sample weights. workerd records no sample while the isolate waits for I/O, so the delta before
 * the first sample of a burst (and DevTools' "until the next sample" after the last one) spans the
 * whole wait: a sample is charged its own delta, capped at twice the median interval.
 */
const sampleWeights = (profile: CpuProfile) => {
  const sorted = profile.timeDeltas.slice(1).filter((d) => d > 0).sort((a, b) => a - b)
  const medianUs = sorted[Math.floor(sorted.length / 2)] ?? options.intervalUs
  const capUs = 2 * medianUs
  const ms = profile.samples.map((_, i) => Math.min(Math.max(profile.timeDeltas[i] ?? 0, 0), capUs) / 1000)
  // The sampler's cadence while the isolate runs (back-to-back samples): the deltas' lower quartile.
  // Charging each sample at most that is the other bound: it drops any real busy time the sampler
  // was late for, where the cap above keeps part of every wait before a burst. The two differ by up
  // to 4x on this 2-core machine, so the truth is only bracketed.
  const cadenceUs = sorted[Math.floor(sorted.length / 4)] ?? options.intervalUs
  const msAtCadence = profile.samples.map((_, i) => Math.min(Math.max(profile.timeDeltas[i] ?? 0, 0), cadenceUs) / 1000)
  return { ms, medianUs, capUs, cadenceUs, msAtCadence }
}

type Frame = { key: string; name: string; location: string; area: string; ours: boolean; meta: boolean }

const analyse = (profile: CpuProfile, mapPosition: MapPosition, requests: number, wallMs: number, top: number) => {
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) byId.set(node.id, node)
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)

  const frameCache = new Map<number, Frame>()
  const frameOf = (nodeId: number): Frame => {
    const cached = frameCache.get(nodeId)
    if (cached) return cached
    const cf = byId.get(nodeId)!.callFrame
    const name = cf.functionName || '(anonymous)'
    const mapped = mapPosition(cf)
    const meta = META.has(name) && !cf.url
    const location = meta
      ? ''
      : mapped.source
        ? `${mapped.source}:${mapped.line}`
        : cf.url
          ? `${cf.url.split('/').pop()}:${cf.lineNumber + 1}:${cf.columnNumber + 1}`
          : '(native)'
    const area = areaOf(name, cf, mapped)
    const frame: Frame = { key: `${name}@${location}`, name, location, area, ours: area.startsWith('src/') || area.startsWith('db/'), meta }
    frameCache.set(nodeId, frame)
    return frame
  }

  const { ms: weights, medianUs, capUs, cadenceUs, msAtCadence } = sampleWeights(profile)
  const self = new Map<string, { frame: Frame; ms: number }>()
  const inclusive = new Map<string, { frame: Frame; ms: number }>()
  const areaSelf = new Map<string, number>()
  const areaInclusive = new Map<string, number>()
  const groupSelf = new Map<string, number>()
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v)

  profile.samples.forEach((leafId, i) => {
    const ms = weights[i]!
    const leaf = frameOf(leafId)
    const s = self.get(leaf.key) ?? { frame: leaf, ms: 0 }
    s.ms += ms
    self.set(leaf.key, s)
    add(areaSelf, leaf.area, ms)
    add(groupSelf, groupOf(leaf.area), ms)
    // Inclusive: each function and each area once per stack.
    const seenKeys = new Set<string>()
    const seenAreas = new Set<string>()
    for (let id: number | undefined = leafId; id !== undefined; id = parent.get(id)) {
      const f = frameOf(id)
      if (f.name === '(root)') continue
      if (!seenKeys.has(f.key)) {
        seenKeys.add(f.key)
        const inc = inclusive.get(f.key) ?? { frame: f, ms: 0 }
        inc.ms += ms
        inclusive.set(f.key, inc)
      }
      if (!seenAreas.has(f.area)) {
        seenAreas.add(f.area)
        add(areaInclusive, f.area, ms)
      }
    }
  })

  const totalMs = weights.reduce((a, b) => a + b, 0)
  const idleMs = areaSelf.get('(idle)') ?? 0
  const programMs = areaSelf.get('(program)') ?? 0
  const gcMs = areaSelf.get('GC') ?? 0
  const rootMs = areaSelf.get('(root)') ?? 0
  const jsMs = totalMs - idleMs - programMs - gcMs - rootMs
  const busy = jsMs + gcMs
  const metaIds = new Set(profile.nodes.filter((n) => ['(idle)', '(program)', '(root)'].includes(n.callFrame.functionName) && !n.callFrame.url).map((n) => n.id))
  const lowerBoundMs = profile.samples.reduce((sum, id, i) => (metaIds.has(id) ? sum : sum + msAtCadence[i]!), 0)
  const pct = (ms: number, of = busy) => `${((100 * ms) / of).toFixed(1)}%`.padStart(6)
  const msCol = (ms: number) => ms.toFixed(1).padStart(8)
  const row = (ms: number) => `${pct(ms)} ${msCol(ms)} ms ${usPerReq(ms, requests)}`
  const notMeta = ([a]: [string, number]) => !META.has(a)
  const lines: string[] = []
  lines.push(
    `samples: ${profile.samples.length} (${(profile.samples.length / requests).toFixed(1)}/request); median interval ${medianUs} µs (asked ${options.intervalUs});` +
      ` a sample is charged its delta capped at ${capUs} µs; profiled span ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms, driver wall ${wallMs.toFixed(0)} ms`,
    `  JS (incl. builtins called from JS) ${usPerReq(jsMs, requests)}`,
    `  GC                                 ${usPerReq(gcMs, requests)}`,
    `  JS + GC                            ${usPerReq(busy, requests)}   <- the Worker's profiled CPU per request; percentages below are of this`,
    `  (program) (isolate entered, no JS frame: workerd/V8 native) ${usPerReq(programMs, requests)};  (idle) ${usPerReq(idleMs, requests)}`,
    `  JS + GC, lower bound                ${usPerReq(lowerBoundMs, requests)}   (each sample charged at most the sampler's cadence, ${cadenceUs} µs)`,
    '',
    `Top ${top} functions by self time:`,
  )
  const selfRows = [...self.values()].filter((r) => !r.frame.meta || r.frame.name === '(garbage collector)').sort((a, b) => b.ms - a.ms)
  selfRows.slice(0, top).forEach((r, i) => lines.push(`${String(i + 1).padStart(3)}. ${row(r.ms)}  ${r.frame.name}  ${r.frame.location}  {${r.frame.area}}`))
  lines.push('', `Top ${top} functions by inclusive time:`)
  ;[...inclusive.values()]
    .filter((r) => !r.frame.meta)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top)
    .forEach((r, i) => lines.push(`${String(i + 1).padStart(3)}. ${row(r.ms)}  ${r.frame.name}  ${r.frame.location}`))
  lines.push('', 'Our own functions (src/, db/) by inclusive time, top 30:')
  ;[...inclusive.values()]
    .filter((r) => r.frame.ours)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 30)
    .forEach((r, i) => lines.push(`${String(i + 1).padStart(3)}. ${row(r.ms)}  ${r.frame.name}  ${r.frame.location}`))
  lines.push('', 'Self time by group (sums to 100%):')
  ;[...groupSelf.entries()].filter(notMeta).sort((a, b) => b[1] - a[1]).forEach(([g, ms]) => lines.push(`  ${row(ms)}  ${g}`))
  lines.push('', 'Self time by area (sums to 100%):')
  ;[...areaSelf.entries()].filter(notMeta).sort((a, b) => b[1] - a[1]).forEach(([a, ms]) => lines.push(`  ${row(ms)}  ${a}`))
  lines.push('', 'Inclusive time by area (an area counts once per stack; areas overlap, so these do not sum to 100%):')
  ;[...areaInclusive.entries()].filter(notMeta).sort((a, b) => b[1] - a[1]).slice(0, 40).forEach(([a, ms]) => lines.push(`  ${row(ms)}  ${a}`))
  return lines.join('\n')
}

/** One line per isolate (the split pass): its JS+GC time per request and top self functions. */
const isolateSummary = (title: string, profile: CpuProfile, requests: number) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const { ms: weights } = sampleWeights(profile)
  const self = new Map<string, number>()
  let busyMs = 0
  profile.samples.forEach((id, i) => {
    const cf = byId.get(id)!.callFrame
    if (['(idle)', '(program)', '(root)'].includes(cf.functionName)) return
    busyMs += weights[i]!
    const key = `${cf.functionName || '(anonymous)'}@${cf.url.split('/').pop() || 'native'}:${cf.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + weights[i]!)
  })
  const topSelf = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4)
  return {
    busyMs,
    line: (share: string) =>
      `  ${title.padEnd(42)} ${share} JS+GC ${usPerReq(busyMs, requests)}; top: ${topSelf.map(([k, ms]) => `${k} ${((1000 * ms) / requests).toFixed(0)} µs`).join(', ')}`,
  }
}

// ---------------------------------------------------------------------------------------------
// workerd's threads' CPU time from /proc (schedstat: nanoseconds on a CPU)
// ---------------------------------------------------------------------------------------------

const cpuDelta = (before: ThreadCpu, after: ThreadCpu, requests: number) => {
  const rows = [...after.entries()]
    .map(([tid, a]) => ({ tid, comm: a.comm, ms: (a.ns - (before.get(tid)?.ns ?? 0)) / 1e6 }))
    .filter((r) => r.ms > 0.05)
    .sort((a, b) => b.ms - a.ms)
  const total = rows.reduce((sum, r) => sum + r.ms, 0)
  // workerd's own event-loop thread is called "workerd"; V8's platform threads and the profiler's
  // sampler ("v8:ProfEvntProc") are the others.
  const main = rows.find((r) => r.comm === 'workerd')?.ms ?? 0
  return {
    total,
    main,
    text: `workerd CPU: all threads ${usPerReq(total, requests)}, event-loop thread ${usPerReq(main, requests)} (${rows
      .slice(0, 4)
      .map((r) => `${r.comm}#${r.tid} ${((1000 * r.ms) / requests).toFixed(0)}`)
      .join(', ')})`,
  }
}

// ---------------------------------------------------------------------------------------------
// Native profile of workerd's event-loop thread with Linux perf (optional)
// ---------------------------------------------------------------------------------------------

const runCommand = (command: string, argv: string[]) =>
  new Promise<string>((ok, fail) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', fail)
    child.on('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`${command} ${argv.join(' ')}: exit ${code}: ${err.slice(0, 400)}`))))
  })

/** Starts `perf record` on one thread; `stop` ends it and answers the report's text. */
const startPerf = async (tid: number, file: string) => {
  const child = spawn('perf', ['record', '-F', '2999', '-t', String(tid), '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)))
  child.on('error', (e) => (err += String(e)))
  await new Promise((r) => setTimeout(r, 300)) // attached
  return {
    stop: async () => {
      child.kill('SIGINT')
      const code = await exited
      if (code !== 0 && code !== null) throw new Error(`perf record: exit ${code}: ${err.slice(0, 400)}`)
      return runCommand('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', 'dso,sym', '--percent-limit', '0', '-q'])
    },
  }
}

/** A component for a native symbol (perf's dso + symbol). */
const componentOf = (dso: string, sym: string) => {
  if (dso.includes('kernel')) return 'kernel (syscalls, network, scheduling)'
  if (/^libc|^ld-linux|libm\b|libstdc|libpthread/.test(dso)) return 'libc/libstdc++ (malloc, memcpy, …)'
  if (dso.startsWith('[JIT]') || dso === '[unknown]') return 'V8 JIT code (optimized JS, baseline code, regexps)'
  if (!dso.includes('workerd')) return `other: ${dso}`
  if (/^Builtins_/.test(sym)) return 'V8 builtins (interpreter, IC, promises, …)'
  if (/^v8::internal::(Heap|Scavenger|MarkCompact|Sweeper|Minor|Marking|Concurrent|GC)|::(Scavenge|Evacuat|Mark)/.test(sym)) return 'V8 GC'
  if (/^v8::internal::.*(Serializer|Deserializer)|ValueSerializer|ValueDeserializer/.test(sym)) return 'V8 value serializer (RPC/structured clone)'
  if (/^(v8::|v8_inspector|cppgc::)/.test(sym)) return 'V8 runtime (API, compiler, objects)'
  if (/^(sqlite3|sqlite)/i.test(sym)) return 'SQLite'
  if (/^capnp::|^kj::.*capnp/.test(sym)) return "Cap'n Proto (RPC, serialization)"
  if (/^kj::.*(Http|http)/.test(sym)) return 'kj HTTP'
  if (/^kj::/.test(sym)) return 'kj (event loop, async, strings, memory)'
  if (/^workerd::api::/.test(sym)) return 'workerd API (Request/Response/fetch/streams/crypto/…)'
  if (/^workerd::/.test(sym)) return 'workerd runtime (IoContext, actors, jsg glue)'
  if (/^(EVP_|SHA|HMAC|AES|BN_|bssl|OPENSSL|CRYPTO_)/.test(sym)) return 'BoringSSL'
  if (/^(__|std::)/.test(sym)) return 'C++ std/runtime'
  return 'workerd binary (other)'
}

const perfSummary = (report: string, requests: number, threadMs: number, top: number) => {
  // Lines: "  12.34%  workerd  [.] symbol" (perf report -q --sort dso,sym)
  const rows: { pct: number; dso: string; sym: string }[] = []
  for (const line of report.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(.+?)\s+\[[.k]\]\s+(.*)$/.exec(line)
    if (m) rows.push({ pct: Number(m[1]), dso: m[2]!, sym: m[3]!.trim() })
  }
  const byComponent = new Map<string, number>()
  for (const r of rows) byComponent.set(componentOf(r.dso, r.sym), (byComponent.get(componentOf(r.dso, r.sym)) ?? 0) + r.pct)
  const us = (pct: number) => `${((10 * pct * threadMs) / requests).toFixed(0).padStart(5)} µs/req`
  return [
    `perf: the event-loop thread's ${usPerReq(threadMs, requests)} of CPU by native component (µs/req = share x that CPU):`,
    ...[...byComponent.entries()].sort((a, b) => b[1] - a[1]).map(([c, pct]) => `  ${pct.toFixed(1).padStart(5)}% ${us(pct)}  ${c}`),
    `perf: top ${top} native symbols:`,
    ...rows
      .slice(0, top)
      .map((r, i) => `${String(i + 1).padStart(3)}. ${r.pct.toFixed(2).padStart(5)}% ${us(r.pct)}  ${r.sym.length > 140 ? `${r.sym.slice(0, 140)}…` : r.sym}  [${r.dso}]`),
  ].join('\n')
}

// ---------------------------------------------------------------------------------------------
// A/B variants: the bundle patched in memory (the repo is not touched)
// ---------------------------------------------------------------------------------------------

type Patch = { name: string; what: string; apply: (bundle: string) => string }
const replaceOnce = (bundle: string, pattern: RegExp, replacement: string, what: string) => {
  const matches = bundle.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))
  if (matches?.length !== 1) throw new Error(`A/B patch "${what}": expected one match of ${pattern}, found ${matches?.length ?? 0}`)
  return bundle.replace(pattern, replacement)
}
const PATCHES: Patch[] = [
  {
    name: 'no-request-log',
    what: "requestLog (src/http/middleware.ts) builds its JSON line but does not console.log it",
    apply: (b) => replaceOnce(b, /(var requestLog = createMiddleware\(async \(c, next\) => \{[\s\S]*?)console\.log\(/, '$1void (', 'no-request-log'),
  },
  {
    name: 'no-rate-limit',
    what: 'rateLimit (src/http/rate-limit.ts) calls next() at once: no Durable Object call, no headers',
    apply: (b) => replaceOnce(b, /var rateLimit = createMiddleware\(async \(c, next\) => \{/, '$& return next();', 'no-rate-limit'),
  },
  {
    name: 'no-secure-headers',
    what: 'securityHeaders (src/http/security.ts) calls next() without hono/secure-headers',
    apply: (b) => replaceOnce(b, /var securityHeaders = createMiddleware\(\(c, next\) => .*\);$/m, 'var securityHeaders = createMiddleware((c, next) => next());', 'no-secure-headers'),
  },
]
/** Not our code: what @libsql/hrana-client's per-stream `ClientError` (built on every graceful close) costs. */
const LIBSQL_CLOSE_ERROR: Patch = {
  name: 'libsql: no close error',
  what: "@libsql/hrana-client's HTTP stream reuses one ClientError for its graceful close instead of building one (with a stack trace) per statement/batch",
  apply: (b) =>
    replaceOnce(
      b,
      /this\._setClosed\(new ClientError\("Stream was gracefully closed"\)\)/,
      'this._setClosed(globalThis.__tgwGracefulClose ??= new ClientError("Stream was gracefully closed"))',
      'libsql: no close error',
    ),
}
/** Bundle patches applied to a copy of the bundle. */
type Variant = { name: string; patches: Patch[] }
const VARIANTS: Variant[] = [
  { name: 'as built', patches: [] },
  ...PATCHES.map((p) => ({ name: p.name, patches: [p] })),
  { name: 'all three', patches: PATCHES },
  { name: LIBSQL_CLOSE_ERROR.name, patches: [LIBSQL_CLOSE_ERROR] },
]

// ---------------------------------------------------------------------------------------------
// The stack (a subset of bench/stack.ts, with the Worker's inspector open)
// ---------------------------------------------------------------------------------------------

const cleanups: (() => Promise<unknown>)[] = []
const closeAll = async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve().then(cleanup).catch((e: unknown) => console.error(`profile: cleanup failed: ${String(e)}`))
  cleanups.length = 0
}
process.once('SIGINT', () => void closeAll().finally(() => process.exit(130)))

try {
  progress('building the Worker; starting libSQL and the sFOX sandbox')
  const dataDir = await mkdtemp(join(tmpdir(), 'tgw-profile-libsql-'))
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
  const libsql = await startLibsqlServer({ port: 0, dataDir })
  cleanups.push(() => libsql.close())
  const build = await buildWorker(root)
  cleanups.push(() => rm(dirname(build.scriptPath), { recursive: true, force: true }))
  const sfox = await startSfox({ rate_limit: { enabled: false }, fixed_otp: FIXED_OTP })
  cleanups.push(() => sfox.close())

  const bundleText = await readFile(build.scriptPath, 'utf8')
  const mapText = await readFile(`${build.scriptPath}.map`, 'utf8').catch(() => null)
  const traceMap = mapText && traceMapping ? new traceMapping.TraceMap(mapText) : null
  if (!traceMap) progress('no source map next to the bundle (or no @jridgewell/trace-mapping): locations stay bundle positions (areas still come from module markers)')
  const mapPosition = sourceMapper(traceMap, moduleMarkers(bundleText), build.scriptPath.split('/').pop()!)

  const dbUrl = `${libsql.url}/profile/`
  await migrateDatabase(dbUrl)
  const workerOptions = withoutWranglerChatter(() => workerOptionsFromConfig(root))
  const adminToken = `profile-admin-${randomBytes(12).toString('hex')}`
  // The same bindings for every Worker this run starts, so API keys stay valid across A/B variants.
  const bindings = benchBindings(dbUrl, adminToken)
  const workerdPidsBefore = new Set(findDescendants('workerd'))
  const launch = async (scriptPath: string, inspectorPort?: number) => {
    const worker = await startWorker({
      scriptPath,
      workerOptions,
      bindings,
      onLog: (log) => {
        if (process.env.DEBUG_WORKER_LOGS) process.stderr.write(`[worker ${log.level}] ${log.message}\n`)
      },
      overrides: inspectorPort === undefined ? {} : { inspectorPort },
    })
    const fresh = findDescendants('workerd').filter((pid) => !workerdPidsBefore.has(pid))
    if (fresh.length !== 1) progress(`found ${fresh.length} new workerd processes: no per-thread CPU figures`)
    const pid = fresh.length === 1 ? fresh[0]! : null
    if (pid !== null) workerdPidsBefore.add(pid)
    return { ...worker, pid }
  }

  const inspectorPort = await freePort()
  let worker = await launch(build.scriptPath, inspectorPort)
  let disposeWorker = () => worker.mf.dispose()
  cleanups.push(() => disposeWorker())

  // Requests follow whichever Worker runs now (A/B variants start their own).
  let current = httpTransport('gateway', worker.url)
  const http: Transport = { name: 'gateway', fetch: (path, init) => current.fetch(path, init) }
  const account = await sfox.newAccount()
  const partner = await setupPartner(http, adminToken, { sfox: { url: sfox.url, apiKey: account.api_key } }, 'Profile partner')
  let key = await partner.issueKey()
  const gw = gatewayOps(http, () => key)
  /** A new key loaded into the key cache (API_KEY_CACHE_SECONDS), so a phase pays for no reload. */
  const freshKey = async () => {
    key = await partner.issueKey()
    await gw.prime()
  }
  const drive = async (count: number, op: (i: number) => Promise<unknown>, perfFile?: string) => {
    await freshKey()
    const tid = perfFile ? eventLoopTid(worker.pid) : null
    const perf = tid !== null && perfFile ? await startPerf(tid, perfFile) : null
    const before = threadCpu(worker.pid)
    const t0 = performance.now()
    for (let i = 0; i < count; i++) await op(i)
    const wallMs = performance.now() - t0
    // Work left to ctx.waitUntil still belongs to the phase: give it a moment.
    await new Promise((r) => setTimeout(r, 200))
    const cpu = cpuDelta(before, threadCpu(worker.pid), count)
    const perfReport = perf ? await perf.stop() : null
    return { wallMs, cpu, perfReport }
  }

  const targets = await listTargets(inspectorPort)
  progress(`inspector targets: ${targets.user.id} (the Worker); Miniflare's: ${targets.others.map((t) => t.id).join(', ')}`)
  const outDir = options.out ? resolve(options.out) : await mkdtemp(join(tmpdir(), 'tgw-profile-'))
  await mkdir(outDir, { recursive: true })
  // The bundle and its map beside the profiles, so DevTools (or a later look) can resolve positions.
  await writeFile(join(outDir, 'index.js'), bundleText)
  if (mapText) await writeFile(join(outDir, 'index.js.map'), mapText)
  const wsUrl = (t: InspectorTarget) => t.webSocketDebuggerUrl ?? `ws://127.0.0.1:${inspectorPort}/${t.id}`

  /** Runs `count` requests with the profiler on in each of `isolates`; answers their profiles. */
  const profiled = async (isolates: InspectorTarget[], count: number, op: (i: number) => Promise<unknown>) => {
    const sessions = await Promise.all(isolates.map((t) => connectCdp(wsUrl(t))))
    try {
      for (const cdp of sessions) {
        await cdp.send('Profiler.enable')
        await cdp.send('Profiler.setSamplingInterval', { interval: options.intervalUs })
      }
      for (const cdp of sessions) await cdp.send('Profiler.start')
      const run = await drive(count, op)
      const profiles = await Promise.all(sessions.map((cdp) => cdp.send<{ profile: CpuProfile }>('Profiler.stop').then((r) => r.profile)))
      for (const cdp of sessions) await cdp.send('Profiler.disable')
      return { ...run, profiles }
    } finally {
      for (const cdp of sessions) cdp.close()
    }
  }

  /** `prepare` runs before each measured pass, outside it (the transfers a confirm or resend needs). */
  const profileFlow = async (
    label: string,
    count: number,
    op: (i: number, phase: string) => Promise<unknown>,
    prepare: (phase: string, count: number) => Promise<unknown> = async () => {},
  ) => {
    await prepare('base', count)
    progress(`${label}: ${count} requests without any inspector session (baseline)`)
    const baseline = await drive(count, (i) => op(i, 'base'))
    await prepare('prof', count)
    progress(`${label}: ${count} requests profiling the Worker's isolate`)
    const detail = await profiled([targets.user], count, (i) => op(i, 'prof'))
    const file = join(outDir, `${label}.cpuprofile`)
    await writeFile(file, JSON.stringify(detail.profiles[0]))
    const out = [
      '',
      `=== ${label}: ${count} requests, 1 in flight; profile: ${file}`,
      `baseline (no inspector session): wall ${(baseline.wallMs / count).toFixed(2)} ms/req; ${baseline.cpu.text}`,
      `Worker profiled:                 wall ${(detail.wallMs / count).toFixed(2)} ms/req; ${detail.cpu.text}`,
    ]
    const splitN = Math.round(count * options.split)
    if (splitN > 0) {
      progress(`${label}: ${splitN} requests profiling every isolate (the split)`)
      const all = [targets.user, ...targets.others]
      await prepare('split', splitN)
      const split = await profiled(all, splitN, (i) => op(i, 'split'))
      for (let t = 0; t < all.length; t++) {
        await writeFile(join(outDir, `${label}.split.${all[t]!.id.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'worker'}.cpuprofile`), JSON.stringify(split.profiles[t]))
      }
      const summaries = all.map((t, k) => ({ id: t.id === targets.user.id ? `${t.id} (the Worker)` : t.id, ...isolateSummary(t.id, split.profiles[k]!, splitN) }))
      const sum = summaries.reduce((a, s) => a + s.busyMs, 0)
      out.push(
        `All isolates profiled (${splitN} requests): wall ${(split.wallMs / splitN).toFixed(2)} ms/req; ${split.cpu.text}`,
        'JS+GC per isolate on workerd\'s thread (share of all isolates\' JS+GC; absolute figures inflated by 7 samplers):',
        ...summaries.filter((s) => s.busyMs > 0).sort((a, b) => b.busyMs - a.busyMs).map((s) => s.line(`${((100 * s.busyMs) / sum).toFixed(0).padStart(3)}%`)),
      )
    }
    if (options.perf) {
      // A pass of its own: perf's sampling costs the thread something, the baseline stays clean.
      const perfN = Math.max(200, splitN)
      progress(`${label}: ${perfN} requests under perf (no inspector session)`)
      await prepare('perf', perfN)
      const native = await drive(perfN, (i) => op(i, 'perf'), join(outDir, `${label}.perf.data`))
      out.push(
        '',
        `perf pass (${perfN} requests): wall ${(native.wallMs / perfN).toFixed(2)} ms/req; ${native.cpu.text}`,
        'Native view of workerd\'s event-loop thread: every isolate on it (the Worker, its Durable Object, Miniflare\'s workers), its I/O and the kernel.',
        perfSummary(native.perfReport!, perfN, native.cpu.main, options.top),
      )
    }
    out.push('', `The Worker's isolate (${targets.user.id}), profiled alone:`, analyse(detail.profiles[0]!, mapPosition, count, detail.wallMs, options.top), '')
    process.stdout.write(out.join('\n'))
  }

  const run = Date.now().toString(36)
  // Transfers to read: a few, created and confirmed (completed), like the bench's get phase.
  const getIds = Array.from({ length: 10 }, (_, i) => `profile-get-${run}-${i}`)
  for (const id of getIds) {
    await gw.create(id)
    await gw.confirm(id)
  }
  const warm = async (label: string) => {
    await freshKey()
    for (let i = 0; i < options.warmup; i++) await gw.get(getIds[i % getIds.length]!)
    for (let i = 0; i < options.warmup; i++) await gw.create(`profile-warm-${label}-${run}-${i}`)
  }
  const profiling = ['get', 'create', 'confirm', 'resend'].some((flow) => options.flows.includes(flow))
  if (profiling) {
    progress(`warm-up: ${options.warmup} GETs and ${options.warmup} creates`)
    await warm('main')
  }
  if (options.flows.includes('get')) await profileFlow('get', options.getN, (i) => gw.get(getIds[i % getIds.length]!))
  if (options.flows.includes('create')) await profileFlow('create', options.createN, (i, phase) => gw.create(`profile-${phase}-${run}-${i}`))
  // A confirm (right code) needs a pending transfer of its own; a resend can reuse one up to the
  // bench partner's resend limit (no cooldown). They are created before each pass, outside it.
  const createPending = (prefix: string) => async (phase: string, count: number) => {
    progress(`${prefix}: creating ${count} pending transfers for the ${phase} pass`)
    for (let i = 0; i < count; i++) await gw.create(`profile-${prefix}-${phase}-${run}-${i}`)
  }
  if (options.flows.includes('confirm')) {
    await profileFlow('confirm', options.createN, (i, phase) => gw.confirm(`profile-confirm-${phase}-${run}-${i}`), createPending('confirm'))
  }
  if (options.flows.includes('resend')) {
    const per = BENCH_RESEND_LIMIT
    await profileFlow(
      'resend',
      options.createN,
      (i, phase) => gw.resend(`profile-resend-${phase}-${run}-${Math.floor(i / per)}`),
      (phase, count) => createPending('resend')(phase, Math.ceil(count / per)),
    )
  }

  if (options.ab > 0) {
    // Every variant runs at once, each in a workerd of its own, and they take turns in blocks of
    // AB_BLOCK requests (the order flips every block): a change in the machine's load (this machine
    // is shared) hits every variant alike, and each block of a variant is compared with the same
    // block of the bundle as built.
    await worker.mf.dispose()
    disposeWorker = async () => {}
    const abDir = await mkdtemp(join(tmpdir(), 'tgw-profile-ab-'))
    cleanups.push(() => rm(abDir, { recursive: true, force: true }))
    const running: { variant: Variant; url: string; pid: number | null }[] = []
    for (const variant of VARIANTS) {
      const dir = join(abDir, variant.name.replace(/\W+/g, '-'))
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'index.js'), variant.patches.reduce((text, patch) => patch.apply(text), bundleText))
      const started = await launch(join(dir, 'index.js'))
      cleanups.push(() => started.mf.dispose())
      running.push({ variant, url: started.url, pid: started.pid })
    }
    const use = (r: (typeof running)[number]) => (current = httpTransport('gateway', r.url))
    // One key for all: each variant loads it into its own key cache (and reloads it every
    // API_KEY_CACHE_SECONDS, one DB round trip per variant per reload: noise below the blocks').
    use(running[0]!)
    key = await partner.issueKey()
    progress(`A/B: ${running.length} variants up; warm-up ${options.warmup} GETs and creates each`)
    for (const r of running) {
      use(r)
      await gw.prime()
      for (let i = 0; i < options.warmup; i++) await gw.get(getIds[i % getIds.length]!)
      for (let i = 0; i < options.warmup; i++) await gw.create(`profile-abwarm-${run}-${r.variant.name.replace(/\W+/g, '-')}-${i}`)
    }
    const AB_BLOCK = 20
    const blocks = Math.max(2, Math.ceil(options.ab / AB_BLOCK))
    type PerBlock = { get: number[]; create: number[]; getWall: number[]; createWall: number[] }
    const perBlock = new Map<string, PerBlock>(running.map((r) => [r.variant.name, { get: [], create: [], getWall: [], createWall: [] }]))
    let seq = 0
    progress(`A/B: ${blocks} blocks of ${AB_BLOCK} requests per flow and variant`)
    for (let b = 0; b < blocks; b++) {
      const order = b % 2 === 0 ? running : [...running].reverse()
      for (const flow of ['get', 'create'] as const) {
        for (const r of order) {
          use(r)
          const before = threadCpu(r.pid)
          const t0 = performance.now()
          for (let i = 0; i < AB_BLOCK; i++) {
            if (flow === 'get') await gw.get(getIds[i % getIds.length]!)
            else await gw.create(`profile-ab-${run}-${seq++}`)
          }
          const wall = (performance.now() - t0) / AB_BLOCK
          const cpu = cpuDelta(before, threadCpu(r.pid), AB_BLOCK).main / AB_BLOCK
          const rows = perBlock.get(r.variant.name)!
          rows[flow].push(cpu)
          rows[flow === 'get' ? 'getWall' : 'createWall'].push(wall)
        }
      }
    }
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length
    /** Mean paired difference against the bundle as built, and twice its standard error. */
    const paired = (xs: number[], base: number[]) => {
      const d = xs.map((x, i) => x - base[i]!)
      const m = mean(d)
      const sd = Math.sqrt(d.reduce((acc, x) => acc + (x - m) ** 2, 0) / Math.max(1, d.length - 1))
      return { m, ci: (2 * sd) / Math.sqrt(d.length) }
    }
    const base = perBlock.get('as built')!
    const us = (ms: number) => (1000 * ms).toFixed(0)
    const cell = (xs: number[], b: number[], self: boolean) => {
      if (self) return `${us(mean(xs)).padStart(6)} ${''.padStart(11)}`
      const { m, ci } = paired(xs, b)
      return `${us(mean(xs)).padStart(6)} ${`${m >= 0 ? '+' : ''}${us(m)}±${us(ci)}`.padStart(11)}`
    }
    const out = [
      '',
      `=== A/B without profiler, all variants up at once, taking turns: ${blocks} blocks x ${AB_BLOCK} requests per flow and variant`,
      "workerd event-loop thread CPU per request, µs: mean, and the change against 'as built' (mean of paired blocks ± 2 standard errors); wall ms/request",
      `${'variant'.padEnd(26)} ${'GET cpu'.padStart(6)} ${'Δ'.padStart(11)} ${'wall'.padStart(6)}   ${'create'.padStart(6)} ${'Δ'.padStart(11)} ${'wall'.padStart(6)}`,
      ...running.map(({ variant: v }) => {
        const r = perBlock.get(v.name)!
        const self = v.name === 'as built'
        return `${v.name.padEnd(26)} ${cell(r.get, base.get, self)} ${mean(r.getWall).toFixed(2).padStart(6)}   ${cell(r.create, base.create, self)} ${mean(r.createWall).toFixed(2).padStart(6)}`
      }),
      ...[...PATCHES, LIBSQL_CLOSE_ERROR].map((patch) => `  ${patch.name}: ${patch.what}`),
      '',
    ]
    process.stdout.write(out.join('\n'))
  }
  progress(`done; profiles, bundle and source map in ${outDir}`)
} finally {
  await closeAll()
}
