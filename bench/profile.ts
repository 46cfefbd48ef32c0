/**
 * Where the Worker spends CPU on its hot path: V8's sampling CPU profiler, through workerd's
 * inspector, while driving one flow at a time (1 in flight) against the built Worker in Miniflare.
 *
 *   npx tsx bench/profile.ts [--get-n 2000] [--create-n 1000] [--warmup 200] [--interval-us 100]
 *                            [--top 25] [--out <dir>] [--flows get,create,confirm,resend,qi-create,qi-confirm,qi-confirm-wrong,upload] [--upload-n 30] [--split 0.25] [--ab 0] [--loop 0] [--loop-profile 0] [--perf]
 *
 * workerd's clock stands still while JavaScript runs, so the Worker cannot time itself; V8's sampler
 * runs on a thread of its own, in real time. Per flow (GET /v1/transfers/{id}; sFOX POST
 * /v1/transfers, a fresh transfer_id each; confirm with the right code, a pending transfer each;
 * resend, up to the partner's resend limit per transfer; QI create TED, QI confirm and QI confirm with a wrong token, against a QI sandbox
 * started for them, each signed with ES512 and its signed answer verified; --create-n sets the count of all these;
 * upload: the bench's 10 MiB document submission streamed on to sFOX, --upload-n of them):
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
 * close error; patched in a temporary copy, never in the repo): all up at once (a workerd each),
 * taking turns in blocks of 20 requests, about N requests per flow per variant: workerd's CPU and
 * wall per request, and each variant's change with ± 2 standard errors of paired blocks.
 * --loop N: afterwards, the gateway's requests (a GET, an sFOX create and resend, a QI create, resend and wrong-token
 *   confirm) replayed inside workerd with their I/O canned after one real pass (profile/loop-harness.ts),
 *   as built and with one part patched out (QI's P-521 sign and verify, the request log line, the
 *   security headers), three workerds each, N rounds of 100, beside the same sign + verify pair in a
 *   tight loop in the gateway's isolate: what those parts cost a request, free of network noise.
 *   --loop-against <bundle.js>: instead of the patched copies, another build of the Worker (e.g. the commit
 *   before, from `wrangler deploy --dry-run --outdir <dir>`), named after its directory: what a change saves.
 *   --loop-profile T: then each of those flows again, T turns of 100 in one more as-built harness under
 *   V8's sampler, with the tables of pass 2 (the harness's own share shows as as-built-loop.mjs).
 * The tables go to stdout, progress to stderr.
 *
 * The raw profiles, the bundle and its map go to --out (default: a new temporary directory); Chrome
 * DevTools' Performance panel (or speedscope) opens the .cpuprofile files.
 *
 * A lighter stack than the bench's (bench/stack.ts, startLeanStack): libSQL server, sFOX sandbox and
 * the Worker only (no QI sandbox, no callback receiver, no webhook endpoint registered, so creates
 * enqueue no deliveries). Same wrangler.toml settings and the bench's bindings (RATE_LIMIT out of
 * reach, the limiter still called per request). Numbers move with the machine's load: compare
 * within one run.
 *
 * The parts, in bench/profile/: options.ts (flags), inspector.ts (profiles through workerd's
 * inspector), source-map.ts (bundle positions to files and areas), isolate-report.ts (a profile's
 * tables), flows.ts (the passes of one flow), driver.ts (requests and their CPU), perf.ts (--perf),
 * patched-bundles.ts and ab-test.ts (--ab), loop-harness.ts and loop.ts (--loop).
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { generateP521KeyPair } from '../sandbox/qi/keys'
import { startQiSandbox } from '../sandbox/qi/server'
import { pdfOf } from './documents'
import { BENCH_RESEND_LIMIT } from './gateway'
import { runAbTest } from './profile/ab-test'
import { startDriver } from './profile/driver'
import { flowProfiler } from './profile/flows'
import { freePort, listTargets } from './profile/inspector'
import { runLoop } from './profile/loop'
import { parseProfileOptions } from './profile/options'
import { bundlePositions } from './profile/source-map'
import { QI_TOKEN } from './qi-control'
import { startLeanStack } from './stack'

const options = parseProfileOptions(process.argv.slice(2))
const root = resolve(import.meta.dirname, '..')
const started = performance.now()
const progress = (line: string) =>
  process.stderr.write(`[profile ${((performance.now() - started) / 1000).toFixed(1)} s] ${line}\n`)

progress('building the Worker; starting libSQL and the sFOX sandbox')
const inspectorPort = await freePort()
const stack = await startLeanStack(root, { name: 'profile', inspectorPort, unminified: true })
process.once('SIGINT', () => void stack.close().finally(() => process.exit(130)))

try {
  const bundleName = stack.build.scriptPath.split('/').pop()!
  const bundleText = await readFile(stack.build.scriptPath, 'utf8')
  const mapText = await readFile(`${stack.build.scriptPath}.map`, 'utf8').catch(() => null)
  const { mapPosition, sourceMapped } = bundlePositions(root, { name: bundleName, text: bundleText, map: mapText })
  if (!sourceMapped)
    progress(
      'no source map next to the bundle (or no @jridgewell/trace-mapping): locations stay bundle positions (areas still come from module markers)',
    )

  // QI flows and the loop only: a QI sandbox of their own (the lean stack has none), every token QI_TOKEN.
  const qiSandbox =
    options.flows.some((flow) => flow.startsWith('qi-')) || options.loop > 0
      ? await startQiSandbox({ port: 0, fixed_token: QI_TOKEN })
      : null
  if (qiSandbox) stack.onClose(() => qiSandbox.close())
  const driver = await startDriver(
    stack,
    progress,
    qiSandbox ? { url: qiSandbox.url, keys: generateP521KeyPair() } : undefined,
  )
  const { gw } = driver

  const targets = await listTargets(inspectorPort)
  progress(
    `inspector targets: ${targets.user.id} (the Worker); Miniflare's: ${targets.others.map((t) => t.id).join(', ')}`,
  )
  const outDir = options.out ? resolve(options.out) : await mkdtemp(join(tmpdir(), 'tgw-profile-'))
  await mkdir(outDir, { recursive: true })
  // The bundle and its map beside the profiles, so DevTools (or a later look) can resolve positions.
  await writeFile(join(outDir, 'index.js'), bundleText)
  if (mapText) await writeFile(join(outDir, 'index.js.map'), mapText)
  const profileFlow = flowProfiler({ options, driver, inspectorPort, targets, outDir, mapPosition, progress })

  const run = Date.now().toString(36)
  // Transfers to read: a few, created and confirmed (completed), like the bench's get phase.
  const getIds = Array.from({ length: 10 }, (_, i) => `profile-get-${run}-${i}`)
  for (const id of getIds) {
    await gw.create(id)
    await gw.confirm(id)
  }
  const warm = async (label: string) => {
    await driver.freshKey()
    for (let i = 0; i < options.warmup; i++) await gw.get(getIds[i % getIds.length]!)
    for (let i = 0; i < options.warmup; i++) await gw.create(`profile-warm-${label}-${run}-${i}`)
  }
  const profiling = ['get', 'create', 'confirm', 'resend', 'qi-create', 'qi-confirm', 'qi-confirm-wrong'].some((flow) =>
    options.flows.includes(flow),
  )
  if (profiling) {
    progress(`warm-up: ${options.warmup} GETs and ${options.warmup} creates`)
    await warm('main')
  }
  if (options.flows.includes('get')) await profileFlow('get', options.getN, (i) => gw.get(getIds[i % getIds.length]!))
  if (options.flows.includes('create'))
    await profileFlow('create', options.createN, (i, phase) => gw.create(`profile-${phase}-${run}-${i}`))
  // A confirm (right code) needs a pending transfer of its own; a resend can reuse one up to the
  // bench partner's resend limit (no cooldown). They are created before each pass, outside it.
  const createPending = (prefix: string) => async (phase: string, count: number) => {
    progress(`${prefix}: creating ${count} pending transfers for the ${phase} pass`)
    for (let i = 0; i < count; i++) await gw.create(`profile-${prefix}-${phase}-${run}-${i}`)
  }
  if (options.flows.includes('confirm')) {
    await profileFlow(
      'confirm',
      options.createN,
      (i, phase) => gw.confirm(`profile-confirm-${phase}-${run}-${i}`),
      createPending('confirm'),
    )
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

  if (options.flows.includes('qi-create'))
    await profileFlow('qi-create', options.createN, (i, phase) => gw.qiCreate(`profile-qi-${phase}-${run}-${i}`))
  // A confirm, right token or wrong, needs a pending TED of its own (a wrong one spends one of its attempts).
  const qiConfirmFlows = [
    ['qi-confirm', gw.qiConfirm],
    ['qi-confirm-wrong', gw.qiConfirmWrong],
  ] as const
  for (const [flow, confirm] of qiConfirmFlows) {
    if (!options.flows.includes(flow)) continue
    await profileFlow(
      flow,
      options.createN,
      (i, phase) => confirm(`profile-${flow}-${phase}-${run}-${i}`),
      async (phase, count) => {
        progress(`${flow}: creating ${count} pending TEDs for the ${phase} pass`)
        for (let i = 0; i < count; i++) await gw.qiCreate(`profile-${flow}-${phase}-${run}-${i}`)
      },
    )
  }

  if (options.flows.includes('upload')) {
    // The bench's 10 MiB upload (file_types first, so the gateway streams it to sFOX as it arrives).
    const upload = await driver.upload(`profile-upload-${run}`, pdfOf(10 * 1024 * 1024))
    for (let i = 0; i < 3; i++) await upload()
    await profileFlow('upload', options.uploadN, () => upload())
  }

  if (options.ab > 0)
    await runAbTest({ stack, driver, bundleText, getIds, run, requests: options.ab, warmup: options.warmup, progress })
  if (options.loop > 0)
    await runLoop({
      stack,
      driver,
      bundleText,
      run,
      rounds: options.loop,
      against: options.loopAgainst
        ? { name: basename(dirname(resolve(options.loopAgainst))), text: await readFile(options.loopAgainst, 'utf8') }
        : null,
      profile: options.loopProfile > 0 ? { turns: options.loopProfile, root, mapText, outDir, options } : null,
      progress,
    })
  progress(`done; profiles, bundle and source map in ${outDir}`)
} finally {
  await stack.close()
}
