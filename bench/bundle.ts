import { readFile } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import type { BuiltWorker } from '../test/helpers/build'

/** The target for the Worker bundle, gzip (the integration test checks the same bound). */
export const BUNDLE_TARGET_KIB = 350

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
}

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
  }
}
