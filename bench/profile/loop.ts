// `--loop N`: the gateway's own CPU per request with its I/O canned (loop-harness.ts), as built and
// with parts patched out (QI's ES512 work, the request log line, the security headers), beside the
// same sign + verify pair in a tight loop in the gateway's isolate: what QI's crypto costs inside a
// request, what QI costs besides it, and what those shared parts cost every request.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cpuBetween, type ThreadCpu, threadCpu } from '../cpu'
import { type PartnerRequest, sfoxFlowRequests } from '../gateway'
import { qiFlowRequests } from '../qi'
import { QI_WRONG_TOKEN } from '../qi-control'
import type { LeanStack } from '../stack'
import { summarize } from '../stats'
import type { Driver, RunningWorker } from './driver'
import { freePort, listTargets, profileWhile } from './inspector'
import { isolateReport } from './isolate-report'
import { loopHarnessSource } from './loop-harness'
import type { ProfileOptions } from './options'
import { NO_QI_CRYPTO, PATCHES, type Patch } from './patched-bundles'
import { bundlePositions } from './source-map'

/** Width of a table cell. */
const COLUMN = 18
/** Gateway requests per turn of a workerd (one request of the harness). */
const PER_TURN = 100
/** Workerds per variant. */
const INSTANCES = 3
// The limiter is a stand-in in the harness already, so its patch would measure nothing.
const LOOP_PATCHES: Patch[] = [NO_QI_CRYPTO, ...PATCHES.filter((patch) => patch.name !== 'no-rate-limit')]

type LoopFlow = {
  name: string
  /** A transfer of the variant's own, in the state the request needs (made through the real stack). */
  prepare: (driver: Driver, id: string) => Promise<unknown>
  request: (id: string, driver: Driver) => { method: string; path: string; body?: string }
  status: number
}
/** A create as the bench sends it (a fresh transfer id; with the I/O canned, every replay is that same new transfer). */
const createRequest = ({ path, init }: PartnerRequest) => ({ method: 'POST', path, body: String(init.body) })
/** A resend of a pending transfer `prepare` made. */
const resendFlow = (name: string, prepare: LoopFlow['prepare']): LoopFlow => ({
  name,
  prepare,
  request: (id) => ({ method: 'POST', path: `/v1/transfers/${id}/resend`, body: '{}' }),
  status: 200,
})
const LOOP_FLOWS: LoopFlow[] = [
  {
    name: 'GET',
    prepare: async (d, id) => {
      await d.gw.create(id)
      await d.gw.confirm(id)
    },
    request: (id) => ({ method: 'GET', path: `/v1/transfers/${id}` }),
    status: 200,
  },
  resendFlow('sFOX resend', (d, id) => d.gw.create(id)),
  {
    name: 'sFOX create',
    prepare: async () => {},
    request: (id, d) => createRequest(sfoxFlowRequests(d.apiKey()).create(id)),
    status: 201,
  },
  {
    name: 'QI create',
    prepare: async () => {},
    request: (id, d) => createRequest(qiFlowRequests(d.apiKey(), d.qiAccountKey).create(id)),
    status: 201,
  },
  resendFlow('QI resend', (d, id) => d.gw.qiCreate(id)),
  {
    name: 'QI wrong token',
    prepare: (d, id) => d.gw.qiCreate(id),
    request: (id) => ({
      method: 'POST',
      path: `/v1/transfers/${id}/confirm`,
      body: JSON.stringify({ code: QI_WRONG_TOKEN }),
    }),
    status: 422,
  },
]

const slugOf = (name: string) => name.replace(/\W+/g, '-')

/** One turn of the harness (loop-harness.ts, `POST /__loop`). */
const turn = async (worker: RunningWorker, body: object) => {
  const response = await fetch(`${worker.url}/__loop`, { method: 'POST', body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`loop harness: ${response.status} ${await response.text()}`)
  return (await response.json()) as { statuses: Record<string, number>; misses: number }
}

/**
 * Readies `worker` for `flow` on a transfer `id` of its own: the real pass that records the I/O (it
 * must answer the flow's status), then warm-up turns until one makes no call the real pass did not
 * (a background flush coming due). Answers the request spec to replay.
 */
const primeFlow = async (
  driver: Driver,
  worker: RunningWorker,
  flow: LoopFlow,
  id: string,
  headers: Record<string, string>,
) => {
  await flow.prepare(driver, id)
  const spec = { ...flow.request(id, driver), headers }
  const recorded = await turn(worker, { ...spec, n: 1, replay: false, reset: true })
  if (recorded.statuses[flow.status] !== 1)
    throw new Error(`loop ${flow.name} (${id}): the real pass answered ${JSON.stringify(recorded.statuses)}`)
  for (let warm = 0; warm < 3; warm++)
    if ((await turn(worker, { ...spec, n: PER_TURN, replay: true })).misses === 0) break
  return spec
}

/**
 * Starts the harness over the bundle as built and over each LOOP_PATCHES copy (INSTANCES workerds
 * each), and for each flow: one real pass per workerd on a transfer of its own records the I/O, one
 * replayed turn warms up, then `rounds` rounds in which every workerd replays PER_TURN requests (the
 * variants' order flips every round) and one as-built isolate runs PER_TURN sign + verify pairs in a
 * tight loop. Prints the table to stdout.
 */
export const runLoop = async ({
  stack,
  driver,
  bundleText,
  run,
  rounds,
  against,
  profile,
  progress,
}: {
  stack: LeanStack
  driver: Driver
  bundleText: string
  run: string
  rounds: number
  /** --loop-against: another build, compared in place of LOOP_PATCHES. */
  against: { name: string; text: string } | null
  /** --loop-profile: turns per flow under V8's sampler; the repo root and source map resolve its frames. */
  profile: { turns: number; root: string; mapText: string | null; outDir: string; options: ProfileOptions } | null
  progress: (line: string) => void
}) => {
  const dir = await mkdtemp(join(tmpdir(), 'tgw-profile-loop-'))
  stack.onClose(() => rm(dir, { recursive: true, force: true }))
  // Each variant runs in INSTANCES workerds: one workerd runs the same code 100-200 µs per request
  // faster or slower than another, persistently, so a variant's figure is the mean of several.
  const variants: { name: string; workers: RunningWorker[] }[] = []
  for (const [name, text] of [
    ['as built', bundleText],
    ...(against
      ? [[against.name, against.text]]
      : LOOP_PATCHES.map((patch): [string, string] => [patch.name, patch.apply(bundleText)])),
  ] as [string, string][]) {
    const slug = slugOf(name)
    await writeFile(join(dir, `${slug}.mjs`), text)
    await writeFile(join(dir, `${slug}-loop.mjs`), loopHarnessSource(`${slug}.mjs`))
    const workers: RunningWorker[] = []
    for (let k = 0; k < INSTANCES; k++) workers.push(await driver.startWorker(join(dir, `${slug}-loop.mjs`)))
    variants.push({ name, workers })
  }
  /** µs of the worker's event-loop thread per unit since `before`. */
  const usSince = (before: ThreadCpu, worker: RunningWorker, units: number) =>
    (1000 * cpuBetween(before, threadCpu(worker.pid), units).main) / units
  /** µs per sign + verify pair, `n` of them in a tight loop in the worker's isolate. */
  const cryptoPairsUs = async (worker: RunningWorker, n: number) => {
    const before = threadCpu(worker.pid)
    const response = await fetch(`${worker.url}/__crypto?n=${n}`)
    if (response.status !== 204) throw new Error(`loop harness crypto: ${response.status}`)
    return usSince(before, worker, Math.max(1, n))
  }
  const built = variants[0]!.workers[0]!
  const headers = { authorization: `Bearer ${driver.apiKey()}`, 'content-type': 'application/json' }
  const cryptoPairUs: number[] = []
  let wentOut = 0
  const lines: string[] = []
  for (const flow of LOOP_FLOWS) {
    const specs = new Map<RunningWorker, object>()
    for (const v of variants) {
      for (const [k, worker] of v.workers.entries()) {
        const id = `profile-loop-${run}-${slugOf(flow.name)}-${slugOf(v.name)}-${k}`
        specs.set(worker, await primeFlow(driver, worker, flow, id, headers))
      }
    }
    progress(`loop: ${flow.name}, ${rounds} rounds of ${PER_TURN} requests per workerd, ${INSTANCES} per variant`)
    // Per variant, by round: the mean over its workerds (a round with one left out stays a hole, so pairs stay aligned).
    const perVariant = new Map(variants.map((v) => [v.name, [] as (number | undefined)[]]))
    for (let r = 0; r < rounds; r++) {
      for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
        const perWorker: number[] = []
        for (const worker of v.workers) {
          const before = threadCpu(worker.pid)
          const answered = await turn(worker, { ...specs.get(worker), n: PER_TURN, replay: true })
          const us = usSince(before, worker, PER_TURN)
          // A turn whose requests did not all take the recorded path is left out. A call that went out
          // is a background flush coming due (audit outcomes, provider stats): counted, and kept.
          wentOut += answered.misses
          if (answered.statuses[flow.status] === PER_TURN) perWorker.push(us)
          else progress(`loop: ${flow.name} (${v.name}) round ${r} left out: ${JSON.stringify(answered)}`)
        }
        if (perWorker.length === v.workers.length)
          perVariant.get(v.name)![r] = perWorker.reduce((sum, us) => sum + us, 0) / perWorker.length
      }
      cryptoPairUs.push(await cryptoPairsUs(built, PER_TURN))
    }
    const asBuilt = perVariant.get('as built')!
    // The median of the rounds kept, '–' when every round was left out.
    const p50 = (xs: (number | undefined)[], sign = '') => {
      const kept = xs.filter((x) => x !== undefined) as number[]
      if (kept.length === 0) return '–'
      const median = summarize(kept, 0).p50
      return `${sign && median >= 0 ? '+' : ''}${median.toFixed(0)}`
    }
    const cells = variants.map(({ name }) => {
      const own = perVariant.get(name)!
      if (name === 'as built') return p50(own).padStart(COLUMN)
      // The change: the median of the rounds' differences (both means from the same round).
      const paired = own.flatMap((x, r) => (x === undefined || asBuilt[r] === undefined ? [] : [x - asBuilt[r]!]))
      return `${p50(own)} (${p50(paired, '+')})`.padStart(COLUMN)
    })
    lines.push(`${flow.name.padEnd(16)} ${cells.join(' ')}`)
  }
  const empty = await cryptoPairsUs(built, 0)
  process.stdout.write(
    [
      '',
      `=== loop: the gateway's requests in workerd with their I/O canned (${rounds} rounds x ${PER_TURN} requests per workerd, ${INSTANCES} workerds per variant); event-loop CPU per request, µs: the median over rounds of the variant's mean`,
      `${'flow'.padEnd(16)} ${variants.map(({ name }) => name.padStart(COLUMN)).join(' ')}`,
      ...lines,
      `ES512 sign + verify, P-521, in a tight loop in the gateway's isolate: ${summarize(cryptoPairUs, 0).p50.toFixed(0)} µs per pair (median of ${cryptoPairUs.length} rounds of ${PER_TURN}; ${Math.min(...cryptoPairUs).toFixed(0)} to ${Math.max(...cryptoPairUs).toFixed(0)}; an empty request ${empty.toFixed(0)} µs)`,
      "  in brackets: the change against 'as built', the median of the rounds' paired differences",
      `  calls that went out during the rounds (background flushes, not canned): ${wentOut}`,
      ...(against
        ? [`  ${against.name}: the build given with --loop-against`]
        : LOOP_PATCHES.map((patch) => `  ${patch.name}: ${patch.what}`)),
      '',
    ].join('\n'),
  )
  if (profile) await profileLoopFlows({ driver, dir, run, headers, profile, progress })
}

/**
 * --loop-profile: one more as-built harness, with workerd's inspector open; per flow, a real pass
 * records the I/O, warm-up turns follow, then `turns` turns of PER_TURN requests under V8's sampler,
 * reported as pass 2 reports a flow (its .cpuprofile saved beside them). Frames of the harness
 * itself show as as-built-loop.mjs: it answers every fetch, so its share is the canned I/O's, not the gateway's.
 */
const profileLoopFlows = async ({
  driver,
  dir,
  run,
  headers,
  profile,
  progress,
}: {
  driver: Driver
  dir: string
  run: string
  headers: Record<string, string>
  profile: NonNullable<Parameters<typeof runLoop>[0]['profile']>
  progress: (line: string) => void
}) => {
  const slug = 'as-built'
  const text = await readFile(join(dir, `${slug}.mjs`), 'utf8')
  const { mapPosition } = bundlePositions(profile.root, { name: `${slug}.mjs`, text, map: profile.mapText })
  const port = await freePort()
  const worker = await driver.startWorker(join(dir, `${slug}-loop.mjs`), port)
  const isolate = (await listTargets(port)).user
  const { options } = profile
  for (const flow of LOOP_FLOWS) {
    const spec = await primeFlow(driver, worker, flow, `profile-loop-${run}-${slugOf(flow.name)}-profiled`, headers)
    progress(`loop profile: ${flow.name}, ${profile.turns} turns of ${PER_TURN} requests under V8's sampler`)
    const started = performance.now()
    const { profiles } = await profileWhile(port, [isolate], options.intervalUs, async () => {
      for (let t = 0; t < profile.turns; t++) await turn(worker, { ...spec, n: PER_TURN, replay: true })
      return {}
    })
    const wallMs = performance.now() - started
    const file = join(profile.outDir, `loop-${slugOf(flow.name)}.cpuprofile`)
    await writeFile(file, JSON.stringify(profiles[0]))
    const requests = profile.turns * PER_TURN
    process.stdout.write(
      `\n=== loop profile: ${flow.name}, ${requests} requests with their I/O canned (${file})\n${isolateReport(profiles[0]!, mapPosition, { requests, wallMs, top: options.top, intervalUs: options.intervalUs })}\n`,
    )
  }
}
