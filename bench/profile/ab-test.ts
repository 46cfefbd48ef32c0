// `--ab N`: the bundle as built against its patched copies, without any profiler: what each patched
// part costs in workerd's CPU and wall time per request, within one run on this shared machine.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cpuBetween, threadCpu } from '../cpu'
import type { LeanStack } from '../stack'
import type { Driver, RunningWorker } from './driver'
import { LIBSQL_CLOSE_ERROR, PATCHES, VARIANTS, type Variant } from './patched-bundles'

/** Requests per variant and flow in one turn. */
const AB_BLOCK = 20

/**
 * Every variant runs at once, each in a workerd of its own, and they take turns in blocks of
 * AB_BLOCK requests (the order flips every block): a change in the machine's load (this machine
 * is shared) hits every variant alike, and each block of a variant is compared with the same
 * block of the bundle as built. Prints the table to stdout.
 */
export const runAbTest = async ({
  stack,
  driver,
  bundleText,
  getIds,
  run,
  requests,
  warmup,
  progress,
}: {
  stack: LeanStack
  driver: Driver
  bundleText: string
  /** Completed transfers to GET. */
  getIds: string[]
  /** This run's id, in every transfer_id. */
  run: string
  /** About this many requests per flow and variant. */
  requests: number
  warmup: number
  progress: (line: string) => void
}) => {
  const { gw } = driver
  // The profiled Worker makes way: every variant starts its own.
  await stack.gateway.stop()
  const abDir = await mkdtemp(join(tmpdir(), 'tgw-profile-ab-'))
  stack.onClose(() => rm(abDir, { recursive: true, force: true }))
  const running: ({ variant: Variant } & RunningWorker)[] = []
  for (const variant of VARIANTS) {
    const dir = join(abDir, variant.name.replace(/\W+/g, '-'))
    await mkdir(dir, { recursive: true })
    await writeFile(
      join(dir, 'index.js'),
      variant.patches.reduce((text, patch) => patch.apply(text), bundleText),
    )
    running.push({ variant, ...(await driver.startWorker(join(dir, 'index.js'))) })
  }
  // One key for all: each variant loads it into its own key cache (and reloads it every
  // API_KEY_CACHE_SECONDS, one DB round trip per variant per reload: noise below the blocks').
  driver.use(running[0]!)
  await driver.newKey()
  progress(`A/B: ${running.length} variants up; warm-up ${warmup} GETs and creates each`)
  for (const r of running) {
    driver.use(r)
    await gw.prime()
    for (let i = 0; i < warmup; i++) await gw.get(getIds[i % getIds.length]!)
    for (let i = 0; i < warmup; i++)
      await gw.create(`profile-abwarm-${run}-${r.variant.name.replace(/\W+/g, '-')}-${i}`)
  }
  const blocks = Math.max(2, Math.ceil(requests / AB_BLOCK))
  type PerBlock = { get: number[]; create: number[]; getWall: number[]; createWall: number[] }
  const perBlock = new Map<string, PerBlock>(
    running.map((r) => [r.variant.name, { get: [], create: [], getWall: [], createWall: [] }]),
  )
  let seq = 0
  progress(`A/B: ${blocks} blocks of ${AB_BLOCK} requests per flow and variant`)
  for (let b = 0; b < blocks; b++) {
    const order = b % 2 === 0 ? running : [...running].reverse()
    for (const flow of ['get', 'create'] as const) {
      for (const r of order) {
        driver.use(r)
        const before = threadCpu(r.pid)
        const t0 = performance.now()
        for (let i = 0; i < AB_BLOCK; i++) {
          if (flow === 'get') await gw.get(getIds[i % getIds.length]!)
          else await gw.create(`profile-ab-${run}-${seq++}`)
        }
        const wall = (performance.now() - t0) / AB_BLOCK
        const cpu = cpuBetween(before, threadCpu(r.pid), AB_BLOCK).main / AB_BLOCK
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
