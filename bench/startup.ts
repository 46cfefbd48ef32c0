// The Worker's cold start: V8's CPU profile of the isolate while it evaluates the bundle (as
// `wrangler check startup` does: a wrapper Worker imports the bundle on its first request, with the
// inspector's profiler on), several fresh workerd processes in turn, attributed through the source map.
import { readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { Miniflare } from 'miniflare'
import { unstable_readConfig } from 'wrangler'
import { type BuiltWorker, buildWorker } from '../test/helpers/build'
import { areaOfPath, projectPathOf } from './bundle'
import { type CpuProfile, type ProfileNode, profileWhile } from './profile/inspector'

/** The issue's target: the bundle's top-level work (its evaluation, our modules and the packages they call), CPU ms. */
export const TOP_LEVEL_TARGET_MS = 10
export const STARTUP_RUNS = 5
/** V8's sampling interval: the whole start is tens of ms, so 1 ms (the default) would give a few dozen samples. */
const SAMPLING_INTERVAL_US = 50
const SHOWN = 10

export type StartupRun = {
  /** Every non-idle sample of the isolate from the import to its end: evaluation, compile, GC. */
  totalMs: number
  /** Samples under the bundle's module evaluation (its top-level code and what it calls). */
  topLevelMs: number
  gcMs: number
  /** V8's own work outside JavaScript frames (parsing and compiling the script lands here). */
  programMs: number
  /**
   * The first request after startup (a 404, no settings bound), every non-idle sample: what the lazy
   * handlers build on first use (src/index.ts) lands here instead of in the top-level work.
   */
  firstRequestMs: number
}

export type StartupResults = {
  runs: StartupRun[]
  median: StartupRun
  /**
   * Top-level work by what the top-level code called (our file, or the package of the function), median ms
   * over runs: esbuild inlines every module's top level into one evaluation, so the callee is what tells them apart.
   */
  byCallee: { name: string; ms: number }[]
  /** Top-level work by where it was spent (the sampled frame's package or our directory), median ms over runs. */
  byArea: { name: string; ms: number }[]
  targetMs: number
  pass: boolean
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * The wrapper: it imports the bundle on its first request, so the profiler is on before the bundle runs;
 * \`/first\` then hands the bundle its first request.
 */
const WRAPPER = `export default {
  async fetch(request, env, ctx) {
    const worker = await import('./index.js')
    if (new URL(request.url).pathname !== '/first') return new Response('started')
    const answer = await worker.default.fetch(new Request('http://startup.local/nope'), {}, ctx)
    await answer.arrayBuffer()
    return new Response('answered ' + answer.status)
  },
}`

type Mapper = (line: number, column: number) => string | null

/** Bundle position → its source file (project-relative), through the source map. */
const sourceMapper = async (scriptPath: string): Promise<Mapper> => {
  // A transitive dependency whose types do not resolve under this tsconfig (as in profile/source-map.ts).
  const { TraceMap, originalPositionFor } = createRequire(import.meta.url)('@jridgewell/trace-mapping') as {
    TraceMap: new (map: string) => object
    originalPositionFor: (map: object, needle: { line: number; column: number }) => { source: string | null }
  }
  const map = new TraceMap(await readFile(`${scriptPath}.map`, 'utf8'))
  return (line, column) => {
    // The module's own evaluation frame has no position (line -1).
    if (line < 0) return null
    const { source } = originalPositionFor(map, { line: line + 1, column: Math.max(column, 0) })
    return source ? projectPathOf(source) : null
  }
}

const profileOneStart = async (bundle: string, compatibility: { date: string; flags: string[] }) => {
  const mf = new Miniflare({
    name: 'startup',
    modules: [
      { type: 'ESModule', path: 'startup-wrapper.js', contents: WRAPPER },
      { type: 'ESModule', path: 'index.js', contents: bundle },
    ],
    compatibilityDate: compatibility.date,
    compatibilityFlags: compatibility.flags,
    inspectorPort: 0,
    // It starts without bindings, so its first request logs "invalid configuration" and a 503: expected here.
    handleStructuredLogs: () => {},
  })
  try {
    await mf.ready
    const inspector = await mf.getInspectorURL()
    const target = {
      id: 'core:user:startup',
      title: 'startup',
      webSocketDebuggerUrl: new URL('/core:user:startup', inspector).href,
    }
    const { profiles } = await profileWhile(Number(inspector.port), [target], SAMPLING_INTERVAL_US, async () => {
      const answer = await mf.dispatchFetch('http://startup.local/')
      if ((await answer.text()) !== 'started') throw new Error(`the bundle did not start: ${answer.status}`)
      return {}
    })
    const first = await profileWhile(Number(inspector.port), [target], SAMPLING_INTERVAL_US, async () => {
      const answer = await mf.dispatchFetch('http://startup.local/first')
      if (!(await answer.text()).startsWith('answered')) throw new Error(`no first answer: ${answer.status}`)
      return {}
    })
    return { start: profiles[0]!, firstRequest: first.profiles[0]! }
  } finally {
    await mf.dispose()
  }
}

type Attributed = { run: StartupRun; byCallee: Map<string, number>; byArea: Map<string, number> }

/** Every non-idle sample of a profile, ms. */
const busyMs = (profile: CpuProfile) => {
  const idle = new Set(
    profile.nodes.filter((n) => ['(idle)', '(root)'].includes(n.callFrame.functionName)).map((n) => n.id),
  )
  return profile.samples.reduce((sum, id, i) => (idle.has(id) ? sum : sum + (profile.timeDeltas[i] ?? 0) / 1000), 0)
}

const attribute = (profile: CpuProfile, mapFrame: Mapper): Attributed => {
  const nodes = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]))
  const parentOf = new Map<number, number>()
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id)
  const isBundle = (n: ProfileNode) => n.callFrame.url.endsWith('/index.js') || n.callFrame.url === 'index.js'
  const sourceCache = new Map<number, string | null>()
  const sourceOf = (n: ProfileNode) => {
    if (!sourceCache.has(n.id))
      sourceCache.set(n.id, isBundle(n) ? mapFrame(n.callFrame.lineNumber, n.callFrame.columnNumber) : null)
    return sourceCache.get(n.id)!
  }
  const run: StartupRun = { totalMs: 0, topLevelMs: 0, gcMs: 0, programMs: 0, firstRequestMs: 0 }
  const byCallee = new Map<string, number>()
  const byArea = new Map<string, number>()
  const add = (into: Map<string, number>, key: string, ms: number) => into.set(key, (into.get(key) ?? 0) + ms)
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    const leaf = nodes.get(id)!
    const name = leaf.callFrame.functionName
    if (name === '(idle)' || name === '(root)') return
    run.totalMs += ms
    if (name === '(garbage collector)') run.gcMs += ms
    if (name === '(program)') run.programMs += ms
    // The stack, leaf first: under the bundle's evaluation when its outermost JavaScript frame is the bundle's.
    const stack: ProfileNode[] = []
    for (let n: ProfileNode | undefined = leaf; n; n = nodes.get(parentOf.get(n.id) ?? -1)) stack.push(n)
    const outermost = stack.filter((n) => n.callFrame.url !== '').at(-1)
    if (!outermost || !isBundle(outermost)) return
    run.topLevelMs += ms
    const leafSource = sourceOf(leaf)
    add(byArea, leafSource ? areaOfPath(leafSource) : `(${name || 'anonymous'}, native)`, ms)
    // What the top-level code called: the frame just inside the evaluation (its file when ours, else its package).
    const called = stack[stack.indexOf(outermost) - 1]
    const calledSource = called ? sourceOf(called) : null
    add(
      byCallee,
      !called
        ? '(the top-level code itself)'
        : calledSource === null
          ? `(${called.callFrame.functionName || 'anonymous'}, native)`
          : calledSource.startsWith('src/') || calledSource.startsWith('db/')
            ? calledSource
            : areaOfPath(calledSource),
      ms,
    )
  })
  return { run, byCallee, byArea }
}

/** The Worker's cold start, `runs` times, each in a fresh workerd. */
export const measureStartup = async (
  root: string,
  built: BuiltWorker,
  runs = STARTUP_RUNS,
  progress: (line: string) => void = () => {},
): Promise<StartupResults> => {
  const config = unstable_readConfig({ config: join(root, 'wrangler.toml') }, { hideWarnings: true })
  const compatibility = { date: config.compatibility_date!, flags: config.compatibility_flags ?? [] }
  const bundle = await readFile(built.scriptPath, 'utf8')
  const mapFrame = await sourceMapper(built.scriptPath)
  const attributed: Attributed[] = []
  for (let i = 0; i < runs; i++) {
    progress(`cold start ${i + 1}/${runs}`)
    // workerd's inspector now and then drops the connection between the two profiles on this busy
    // machine: that run is made again in a fresh workerd (the figures come from one process each).
    const profiled = await profileOneStart(bundle, compatibility).catch((error: unknown) => {
      progress(`cold start ${i + 1}/${runs} again: ${error instanceof Error ? error.message : String(error)}`)
      return profileOneStart(bundle, compatibility)
    })
    const { start, firstRequest } = profiled
    const one = attribute(start, mapFrame)
    one.run.firstRequestMs = busyMs(firstRequest)
    attributed.push(one)
  }
  const medianOf = (pick: (r: StartupRun) => number) => median(attributed.map((a) => pick(a.run)))
  const medianRun: StartupRun = {
    totalMs: medianOf((r) => r.totalMs),
    topLevelMs: medianOf((r) => r.topLevelMs),
    gcMs: medianOf((r) => r.gcMs),
    programMs: medianOf((r) => r.programMs),
    firstRequestMs: medianOf((r) => r.firstRequestMs),
  }
  const ranked = (pick: (a: Attributed) => Map<string, number>) => {
    const names = new Set(attributed.flatMap((a) => [...pick(a).keys()]))
    return [...names]
      .map((name) => ({ name, ms: median(attributed.map((a) => pick(a).get(name) ?? 0)) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SHOWN)
  }
  return {
    runs: attributed.map((a) => a.run),
    median: medianRun,
    byCallee: ranked((a) => a.byCallee),
    byArea: ranked((a) => a.byArea),
    targetMs: TOP_LEVEL_TARGET_MS,
    pass: medianRun.topLevelMs <= TOP_LEVEL_TARGET_MS,
  }
}

const ms = (x: number) => x.toFixed(1)

/** The cold start's report: every run, then where the top-level work goes. */
export const startupReport = (s: StartupResults): string => {
  const rows = s.runs.map(
    (r, i) =>
      `| ${i + 1} | ${ms(r.totalMs)} | ${ms(r.topLevelMs)} | ${ms(r.gcMs)} | ${ms(r.programMs)} | ${ms(r.firstRequestMs)} |`,
  )
  const m = s.median
  const side = Array.from({ length: Math.max(s.byCallee.length, s.byArea.length) }, (_, i) => {
    const [a, b] = [s.byCallee[i], s.byArea[i]]
    return `| ${a ? `${a.name} | ${ms(a.ms)}` : ' | '} | ${b ? `${b.name} | ${ms(b.ms)}` : ' | '} |`
  })
  return [
    '| run | startup CPU ms | top-level work ms | GC ms | V8 program (parse, compile) ms | first request CPU ms |',
    '| --- | -------------- | ----------------- | ----- | ------------------------------ | -------------------- |',
    ...rows,
    `| median | ${ms(m.totalMs)} | **${ms(m.topLevelMs)}** | ${ms(m.gcMs)} | ${ms(m.programMs)} | ${ms(m.firstRequestMs)} |`,
    '',
    `Top-level work, median ms: by what the top-level code called (our file, or a package) | by where the sampled frame is`,
    '',
    '| called by the top level | ms | sampled in | ms |',
    '| ----------------------- | -- | ---------- | -- |',
    ...side,
    '',
    `Each run a fresh workerd (Miniflare) whose wrapper Worker imports the bundle on its first request, V8's sampling`,
    `profiler on (every ${SAMPLING_INTERVAL_US} µs; figures inflate under it). Startup CPU: every non-idle sample; top-level work: the`,
    `samples whose outermost JavaScript frame is the bundle's (its module evaluation), GC and V8's parse/compile apart.`,
    `First request: every non-idle sample while the bundle answers its first request (GET /nope with no settings):`,
    `the handlers (src/worker.ts) are imported on first use, so building the app and its schemas is counted there.`,
    `Target: top-level work <= ${s.targetMs} ms (median): ${s.pass ? 'PASS' : 'MISS'}.`,
  ].join('\n')
}

// `tsx bench/startup.ts [runs]`: builds the Worker and prints the cold start report alone.
if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = resolve(import.meta.dirname, '..')
  const runs = Number(process.argv[2] ?? STARTUP_RUNS)
  const built = await buildWorker(root)
  try {
    const results = await measureStartup(root, built, runs, (line) => process.stderr.write(`${line}\n`))
    process.stdout.write(`${startupReport(results)}\n`)
  } finally {
    await rm(dirname(built.scriptPath), { recursive: true, force: true })
  }
}
