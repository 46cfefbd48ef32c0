// Reads a V8 CPU profile of an isolate: the Worker's own as tables of functions and areas, and a
// line per isolate for the pass that profiles every isolate in workerd at once.
import { usPerRequest } from '../table'
import type { CpuProfile, ProfileNode } from './inspector'
import { areaOf, groupOf, type MapPosition, META } from './source-map'

/**
 * Sample weights. workerd records no sample while the isolate waits for I/O, so the delta before
 * the first sample of a burst (and DevTools' "until the next sample" after the last one) spans the
 * whole wait: a sample is charged its own delta, capped at twice the median interval.
 */
const sampleWeights = (profile: CpuProfile, intervalUs: number) => {
  const sorted = profile.timeDeltas
    .slice(1)
    .filter((d) => d > 0)
    .sort((a, b) => a - b)
  const medianUs = sorted[Math.floor(sorted.length / 2)] ?? intervalUs
  const capUs = 2 * medianUs
  const ms = profile.samples.map((_, i) => Math.min(Math.max(profile.timeDeltas[i] ?? 0, 0), capUs) / 1000)
  // The sampler's cadence while the isolate runs (back-to-back samples): the deltas' lower quartile.
  // Charging each sample at most that is the other bound: it drops any real busy time the sampler
  // was late for, where the cap above keeps part of every wait before a burst. The two differ by up
  // to 4x on this 2-core machine, so the truth is only bracketed.
  const cadenceUs = sorted[Math.floor(sorted.length / 4)] ?? intervalUs
  const msAtCadence = profile.samples.map((_, i) => Math.min(Math.max(profile.timeDeltas[i] ?? 0, 0), cadenceUs) / 1000)
  return { ms, medianUs, capUs, cadenceUs, msAtCadence }
}

type Frame = { key: string; name: string; location: string; area: string; ours: boolean; meta: boolean }

/**
 * One isolate's profile as tables: how its time splits (JS, GC, V8/workerd native, idle), the top
 * functions by self and inclusive time, our own functions, and time per group and area.
 */
export const isolateReport = (
  profile: CpuProfile,
  mapPosition: MapPosition,
  { requests, wallMs, top, intervalUs }: { requests: number; wallMs: number; top: number; intervalUs: number },
) => {
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
    const frame: Frame = {
      key: `${name}@${location}`,
      name,
      location,
      area,
      ours: area.startsWith('src/') || area.startsWith('db/'),
      meta,
    }
    frameCache.set(nodeId, frame)
    return frame
  }

  const { ms: weights, medianUs, capUs, cadenceUs, msAtCadence } = sampleWeights(profile, intervalUs)
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
  const metaIds = new Set(
    profile.nodes
      .filter((n) => ['(idle)', '(program)', '(root)'].includes(n.callFrame.functionName) && !n.callFrame.url)
      .map((n) => n.id),
  )
  const lowerBoundMs = profile.samples.reduce((sum, id, i) => (metaIds.has(id) ? sum : sum + msAtCadence[i]!), 0)
  const pct = (ms: number, of = busy) => `${((100 * ms) / of).toFixed(1)}%`.padStart(6)
  const msCol = (ms: number) => ms.toFixed(1).padStart(8)
  const row = (ms: number) => `${pct(ms)} ${msCol(ms)} ms ${usPerRequest(ms, requests)}`
  const notMeta = ([a]: [string, number]) => !META.has(a)
  const lines: string[] = []
  lines.push(
    `samples: ${profile.samples.length} (${(profile.samples.length / requests).toFixed(1)}/request); median interval ${medianUs} µs (asked ${intervalUs});` +
      ` a sample is charged its delta capped at ${capUs} µs; profiled span ${((profile.endTime - profile.startTime) / 1000).toFixed(0)} ms, driver wall ${wallMs.toFixed(0)} ms`,
    `  JS (incl. builtins called from JS) ${usPerRequest(jsMs, requests)}`,
    `  GC                                 ${usPerRequest(gcMs, requests)}`,
    `  JS + GC                            ${usPerRequest(busy, requests)}   <- the Worker's profiled CPU per request; percentages below are of this`,
    `  (program) (isolate entered, no JS frame: workerd/V8 native) ${usPerRequest(programMs, requests)};  (idle) ${usPerRequest(idleMs, requests)}`,
    `  JS + GC, lower bound                ${usPerRequest(lowerBoundMs, requests)}   (each sample charged at most the sampler's cadence, ${cadenceUs} µs)`,
    '',
    `Top ${top} functions by self time:`,
  )
  const selfRows = [...self.values()]
    .filter((r) => !r.frame.meta || r.frame.name === '(garbage collector)')
    .sort((a, b) => b.ms - a.ms)
  selfRows
    .slice(0, top)
    .forEach((r, i) =>
      lines.push(`${String(i + 1).padStart(3)}. ${row(r.ms)}  ${r.frame.name}  ${r.frame.location}  {${r.frame.area}}`),
    )
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
  ;[...groupSelf.entries()]
    .filter(notMeta)
    .sort((a, b) => b[1] - a[1])
    .forEach(([g, ms]) => lines.push(`  ${row(ms)}  ${g}`))
  lines.push('', 'Self time by area (sums to 100%):')
  ;[...areaSelf.entries()]
    .filter(notMeta)
    .sort((a, b) => b[1] - a[1])
    .forEach(([a, ms]) => lines.push(`  ${row(ms)}  ${a}`))
  lines.push('', 'Inclusive time by area (an area counts once per stack; areas overlap, so these do not sum to 100%):')
  ;[...areaInclusive.entries()]
    .filter(notMeta)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 40)
    .forEach(([a, ms]) => lines.push(`  ${row(ms)}  ${a}`))
  return lines.join('\n')
}

/** One line per isolate (the split pass): its JS+GC time per request and top self functions. */
export const isolateSummary = (title: string, profile: CpuProfile, requests: number, intervalUs: number) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const { ms: weights } = sampleWeights(profile, intervalUs)
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
      `  ${title.padEnd(42)} ${share} JS+GC ${usPerRequest(busyMs, requests)}; top: ${topSelf.map(([k, ms]) => `${k} ${((1000 * ms) / requests).toFixed(0)} µs`).join(', ')}`,
  }
}
