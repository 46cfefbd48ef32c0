import { existsSync, readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { BuiltWorker } from '../test/helpers/build'

/** The issue's target for the Worker bundle, gzip (the integration test checks the same bound). */
export const BUNDLE_TARGET_KIB = 250
/** How many of the bundle's largest modules the report lists. */
export const LARGEST_MODULES_SHOWN = 10

export type BundleSize = {
  file: string
  bytes: number
  /** node:zlib gzip at level 9 of the bundle file. */
  zlibGzipBytes: number
  /** Wrangler's own "Total Upload: … KiB / gzip: … KiB" line, when it printed one. */
  wrangler: { totalKib: number; gzipKib: number } | null
  /** The figure the target is judged on: wrangler's when it printed one, else node:zlib's. */
  gzipKib: number
  source: 'wrangler' | 'node:zlib level 9'
  targetKib: number
  pass: boolean
  /** The bundle's largest source files by gzip size, and the same by package or directory of ours. */
  largest: { modules: ModuleSize[]; areas: ModuleSize[] } | null
}

/** One source file's (or area's) share of the bundle: its minified bytes and those bytes gzipped on their own. */
export type ModuleSize = { name: string; bytes: number; gzipBytes: number }

// e.g. "Total Upload: 1436.08 KiB / gzip: 272.31 KiB" (colours stripped first).
const UPLOAD_LINE = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/

export const parseWranglerUploadLine = (output: string): BundleSize['wrangler'] => {
  const match = UPLOAD_LINE.exec(output.replace(/\x1b\[[0-9;]*m/g, ''))
  return match ? { totalKib: Number(match[1]), gzipKib: Number(match[2]) } : null
}

/** The bundle's size both ways; wrangler's gzip figure wins when it printed one. */
export const bundleSizeOf = async (built: BuiltWorker): Promise<BundleSize> => {
  const bundle = await readFile(built.scriptPath)
  const zlibGzipBytes = gzipSync(bundle, { level: 9 }).length
  const wrangler = parseWranglerUploadLine(built.output)
  const gzipKib = wrangler ? wrangler.gzipKib : zlibGzipBytes / 1024
  return {
    file: 'index.js',
    bytes: bundle.length,
    zlibGzipBytes,
    wrangler,
    gzipKib,
    source: wrangler ? 'wrangler' : 'node:zlib level 9',
    targetKib: BUNDLE_TARGET_KIB,
    pass: gzipKib < BUNDLE_TARGET_KIB,
    largest: await largestModulesOf(built.scriptPath, bundle.toString('utf8')),
  }
}

/**
 * @jridgewell/trace-mapping reads the bundle's source map (a transitive dependency, loaded through
 * require and typed here, as in profile/source-map.ts).
 */
type TraceMapping = {
  TraceMap: new (map: string) => object
  decodedMappings: (map: object) => ReadonlyArray<ReadonlyArray<readonly number[]>>
}
const traceMapping = ((): TraceMapping | null => {
  try {
    return createRequire(import.meta.url)('@jridgewell/trace-mapping') as TraceMapping
  } catch {
    return null
  }
})()

const root = join(import.meta.dirname, '..')

/**
 * A source map's source → a path from the project root. drizzle-orm's own maps name its files
 * "../src/…" (no package name), so esbuild's chained map says node_modules/src/…: the package is
 * found by the compiled file it ships for that source.
 */
const packageOfOrphan = new Map<string, string>()
export const projectPathOf = (source: string): string => {
  let path = source.replace(/^(\.\.\/)+/, '/')
  path = path.startsWith(`${root}/`)
    ? path.slice(root.length + 1)
    : path.replace(/^.*?\/(node_modules|src|db)\//, '$1/')
  if (!path.startsWith('node_modules/src/')) return path
  const rest = path.slice('node_modules/src/'.length).replace(/\.ts$/, '.js')
  if (!packageOfOrphan.has(rest)) {
    const owner = readdirSync(join(root, 'node_modules')).find((pkg) =>
      existsSync(join(root, 'node_modules', pkg, rest)),
    )
    packageOfOrphan.set(rest, owner ?? 'src')
  }
  return `node_modules/${packageOfOrphan.get(rest)}/src/${path.slice('node_modules/src/'.length)}`
}

/** A file's area: its package (zod's locales apart: the bulk of zod), or its directory of ours. */
export const areaOfPath = (path: string): string => {
  if (path.startsWith('node_modules/zod/v4/locales/')) return 'zod (locales)'
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  if (pkg) return pkg[1]!
  const parts = path.split('/')
  return parts.length > 2 ? `${parts.slice(0, 2).join('/')}/` : path
}

/**
 * The minified bundle attributed to its sources through the source map: every generated segment's
 * text belongs to the source it maps to (unmapped text, esbuild's glue, to none). Each file's text is
 * gzipped on its own, so the figures rank files and do not add up to the bundle's gzip size.
 */
const largestModulesOf = async (scriptPath: string, text: string): Promise<BundleSize['largest']> => {
  const mapText = await readFile(`${scriptPath}.map`, 'utf8').catch(() => null)
  if (!mapText || !traceMapping) return null
  const sources = (JSON.parse(mapText) as { sources: string[] }).sources.map(projectPathOf)
  const pieces = new Map<string, string[]>()
  const lines = text.split('\n')
  traceMapping.decodedMappings(new traceMapping.TraceMap(mapText)).forEach((segments, lineIndex) => {
    const line = lines[lineIndex] ?? ''
    segments.forEach((segment, i) => {
      if (segment.length < 4) return
      const end = segments[i + 1]?.[0] ?? line.length
      const source = sources[segment[1]!]!
      const list = pieces.get(source) ?? []
      list.push(line.slice(segment[0]!, end))
      pieces.set(source, list)
    })
  })
  const sized = (groups: Map<string, string[]>) =>
    [...groups]
      .map(([name, parts]) => {
        const bytes = Buffer.from(parts.join(''))
        return { name, bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length }
      })
      .sort((a, b) => b.gzipBytes - a.gzipBytes)
      .slice(0, LARGEST_MODULES_SHOWN)
  const areas = new Map<string, string[]>()
  for (const [file, parts] of pieces) {
    const area = areaOfPath(file)
    areas.set(area, [...(areas.get(area) ?? []), ...parts])
  }
  return { modules: sized(pieces), areas: sized(areas) }
}

/** The bundle's largest files and areas, side by side, for the report. */
export const largestModulesTable = (b: BundleSize): string => {
  if (!b.largest)
    return 'no source map beside the bundle (or no @jridgewell/trace-mapping): sizes by module unavailable'
  const { modules, areas } = b.largest
  const kib = (bytes: number) => (bytes / 1024).toFixed(1)
  const rows = modules.map((m, i) => {
    const a = areas[i]
    return `| ${i + 1} | ${m.name} | ${kib(m.gzipBytes)} | ${kib(m.bytes)} | ${a ? `${a.name} | ${kib(a.gzipBytes)} | ${kib(a.bytes)}` : ' | | '} |`
  })
  return [
    '| # | module (source file) | KiB gzip | KiB min. | area (package or our directory) | KiB gzip | KiB min. |',
    '| - | -------------------- | -------- | -------- | ------------------------------- | -------- | -------- |',
    ...rows,
    '',
    "Minified bytes each source contributes (attributed through the bundle's source map), gzipped on their own: they rank",
    `the parts and do not add up to the bundle's ${b.gzipKib.toFixed(2)} KiB gzip (one stream compresses better than its pieces).`,
  ].join('\n')
}
