// Attributes a profile's bundle positions to what they came from: the original file and line (the
// bundle's source map) and an area (a package, one of our files, or a V8/workerd bucket).
import { createRequire } from 'node:module'
import type { CallFrame } from './inspector'

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
  originalPositionFor: (
    map: TraceMap,
    needle: { line: number; column: number },
  ) => { source: string | null; line: number | null }
}
const traceMapping = ((): TraceMapping | null => {
  try {
    return createRequire(import.meta.url)('@jridgewell/trace-mapping') as TraceMapping
  } catch {
    return null
  }
})()

export type Mapped = { source: string | null; line: number; module: string | null }
export type MapPosition = (cf: CallFrame) => Mapped

/**
 * Bundle position → original file and line (source map, paths relative to `root`) and bundled
 * module (markers). `sourceMapped` is false without a map (or without @jridgewell/trace-mapping).
 */
export const bundlePositions = (
  root: string,
  bundle: { name: string; text: string; map: string | null },
): { mapPosition: MapPosition; sourceMapped: boolean } => {
  const map = bundle.map && traceMapping ? new traceMapping.TraceMap(bundle.map) : null
  const moduleAt = moduleMarkers(bundle.text)
  const mapPosition: MapPosition = (cf) => {
    const bundled = cf.url !== '' && cf.url.split('/').pop() === bundle.name && cf.lineNumber >= 0
    const module = bundled ? moduleAt(cf.lineNumber) : null
    if (!map || !traceMapping || !bundled) return { source: null, line: cf.lineNumber + 1, module }
    const pos = traceMapping.originalPositionFor(map, { line: cf.lineNumber + 1, column: Math.max(cf.columnNumber, 0) })
    if (!pos.source) return { source: null, line: cf.lineNumber + 1, module }
    // "../../work/main/node_modules/hono/dist/hono-base.js" → "node_modules/hono/dist/hono-base.js"
    const absolute = pos.source.replace(/^(\.\.\/)+/, '/')
    let relative = absolute.startsWith(`${root}/`)
      ? absolute.slice(root.length + 1)
      : absolute.replace(/^.*?\/(node_modules|src|db)\//, '$1/')
    const pkg = module ? /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(module)?.[1] : undefined
    if (relative.startsWith('node_modules/src/') && pkg)
      relative = `node_modules/${pkg}/${relative.slice('node_modules/'.length)}`
    return { source: relative, line: pos.line ?? cf.lineNumber + 1, module }
  }
  return { mapPosition, sourceMapped: map !== null }
}

const CRYPTO_NATIVE =
  /^(digest|sign|verify|importKey|exportKey|encrypt|decrypt|deriveBits|deriveKey|getRandomValues|randomUUID|timingSafeEqual|generateKey)$/
const JSON_NATIVE = /^(parse|stringify)$/
/** V8's pseudo-frames: no function of anyone's. */
export const META = new Set(['(root)', '(program)', '(idle)', '(garbage collector)'])

/** The area of a frame: a package, one of our files, or a V8/workerd bucket. */
export const areaOf = (name: string, cf: CallFrame, mapped: Mapped): string => {
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
export const groupOf = (area: string): string => {
  if (area.startsWith('src/')) return `ours: ${area.split('/').slice(0, 2).join('/')}`
  if (area.startsWith('db/')) return 'ours: db/'
  return area
}
