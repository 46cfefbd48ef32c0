import { availableParallelism, loadavg } from 'node:os'
import { resolve } from 'node:path'
import { verdicts } from './analysis'
import { bundleSizeOf, largestModulesTable } from './bundle'
import { runCallbacks } from './callbacks'
import { qiReplayNotes } from './cpu-judge'
import { writeJsonReport } from './json'
import { findWorkerd, residentKib } from './memory'
import { parseOptions, USAGE } from './options'
import { QI_TOKEN } from './qi-control'
import {
  callbackLatencyTable,
  callbackNotes,
  callbackThroughputTable,
  cpuJudgeNotes,
  cpuJudgeTable,
  dispatchTable,
  floorsTable,
  header,
  ioProbeNotes,
  ioProbeTable,
  opsTable,
  overheadTable,
  section,
  summaryReport,
  uploadMemoryTable,
  uploadNotes,
  uploadThroughputTable,
  uploadTimeTable,
  verdictLines,
} from './report'
import type { RunInfo } from './run-info'
import { prepareScenario } from './scenario'
import { BENCH_RATE_LIMIT, FIXED_OTP, startStack } from './stack'
import { measureStartup, startupReport } from './startup'
import { summaryOf } from './summary'
import { runUploads } from './uploads'

// `npm run bench`: the tables go to stdout, progress to stderr (so `npm run bench > out.txt` is clean).
const parsed = (() => {
  try {
    return parseOptions(process.argv.slice(2), process.env)
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`)
    process.exit(2)
  }
})()
if (!parsed) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const options = parsed

const root = resolve(import.meta.dirname, '..')
const started = performance.now()
const seconds = () => ((performance.now() - started) / 1000).toFixed(1)
const progress = (line: string) => process.stderr.write(`[bench ${seconds()} s] ${line}\n`)
const loadAtStart = loadavg()

progress('building the Worker; starting libSQL, the sFOX and QI sandboxes, the callback receiver and workerd')
const stack = await startStack(root)
// Ctrl-C must not leave workerd or temporary directories behind.
process.once('SIGINT', () => void stack.close().finally(() => process.exit(130)))
// workerd's resident memory before the run's first request, reported with the uploads' baselines.
const workerdPid = findWorkerd().pid
const workerdAtStartKib = workerdPid === null ? null : residentKib(workerdPid)

try {
  const scenario = await prepareScenario(stack, options, progress)
  await scenario.warm()
  // The latency pass first: its CPU judge reads CPU time, which this process (load generator,
  // sandboxes, libSQL server) inflates on both workerds as its heap grows with every phase.
  // Flows here too, so the summary's flow row has a latency at 1 in flight like the ops.
  // The I/O probe (from inside workerd) here: the overhead estimate and its targets come from this pass.
  const latency = await scenario.pass('latency', options.latencyN, options.qiLatencyN, 1, {
    dispatch: false,
    flows: true,
    ioProbe: true,
  })
  const throughput = await scenario.pass('throughput', options.n, options.qiN, options.concurrency, {
    dispatch: true,
    flows: true,
    ioProbe: false,
  })
  scenario.close()
  const callbacks = await runCallbacks(stack, options, progress)
  const uploads = await runUploads(stack, options, progress, workerdAtStartKib)
  const bundle = await bundleSizeOf(stack.build)
  const startup = await measureStartup(root, stack.build, undefined, progress)
  const targets = verdicts([throughput, latency], latency, callbacks, { uploads, bundle })
  const summary = summaryOf({ throughput, latency }, callbacks, uploads, bundle, startup)
  const info: RunInfo = {
    cpus: availableParallelism(),
    node: process.version,
    loadAtStart,
    loadAtEnd: loadavg(),
    keyCacheSeconds: stack.gateway.keyCacheSeconds,
    fixedOtp: FIXED_OTP,
    qiToken: QI_TOKEN,
    rateLimit: BENCH_RATE_LIMIT,
  }

  const c = options.concurrency
  const out = [
    header(options, info),
    section(
      `Throughput pass (${c} in flight), sFOX: gateway over HTTP vs straight to the sFOX sandbox`,
      opsTable(throughput, 'sfox'),
    ),
    section(
      `Throughput pass (${c} in flight), QI: gateway over HTTP vs straight to the QI sandbox`,
      opsTable(throughput, 'qi'),
    ),
    section('Throughput pass: transport floors and one DB round trip', floorsTable(throughput)),
    section('Throughput pass: Miniflare dispatchFetch vs real HTTP to the Worker', dispatchTable(throughput)),
    section(
      'Latency pass (1 in flight), sFOX: gateway over HTTP vs straight to the sFOX sandbox',
      opsTable(latency, 'sfox'),
    ),
    section('Latency pass (1 in flight), QI: gateway over HTTP vs straight to the QI sandbox', opsTable(latency, 'qi')),
    section('Latency pass: transport floors and one DB round trip', floorsTable(latency)),
    ...(latency.ioProbe
      ? [
          section(
            'Latency pass: I/O probe, the same calls from Node and from inside workerd',
            [ioProbeTable(latency.ioProbe), '', ioProbeNotes(latency.ioProbe)].join('\n'),
          ),
        ]
      : []),
    ...(latency.cpu
      ? [
          section(
            "Gateway time beyond its I/O, MEASURED: workerd's CPU per request, the gateway vs a replay of its I/O alone",
            [cpuJudgeTable(latency.cpu), '', cpuJudgeNotes(latency.cpu), qiReplayNotes(latency.cpu)].join('\n'),
          ),
        ]
      : []),
    section(
      'Gateway time beyond its I/O: ESTIMATES from outside (latency pass, differences of p50s), Node-based and workerd-based',
      [
        overheadTable(latency),
        '',
        'Node-based (the first estimate): I/O = direct sandbox p50 + DB round trips per op x p50 of one DB round trip from Node (its own',
        "database on the same server, same run); it charges the gateway with whatever workerd's I/O costs beyond Node's, and with the",
        "rate limiter's Durable Object call.",
        latency.ioProbe
          ? [
              'workerd-based (the targets use it): I/O = provider + DB round trips per op x the transport of one DB round trip from workerd (the',
              'I/O probe\'s "1 call p50 (est.)" less the libSQL server\'s own time per probe call) + "DB exec/op" (the server\'s measured time',
              "executing the op's statements, mean per op) + DO calls (the rate limiter; none for GET, whose read overlaps it) x its typical",
              'time from workerd; provider = direct p50',
              "from Node + the I/O probe's \"workerd - Node\" for that provider: the sandbox's own work stays I/O (for QI: checking the request's",
              "signature, signing its answer), Node's transport is swapped for workerd's (for QI measured on the unsigned control route, a",
              'transport proxy). "Node-based - workerd-based" = how much of the first estimate was in fact workerd\'s I/O and the DO call',
              '(negative: that I/O costs less from workerd than from Node, and the first estimate charged the gateway too little).',
            ].join('\n')
          : 'workerd-based: - (the I/O probe did not run: --io-probe-n 0); the targets use the Node-based estimate.',
        "For QI ops the gateway's ES512 request signature and its check of QI's signed answer are beyond I/O: CPU, not I/O",
        '(the direct requests were signed before their phase; see the signature floor for what one costs in Node).',
        "floor = GET /nope through the same transport (Node fetch -> Miniflare entry -> Worker 404): the harness's",
        'transport plus the routing of a request that does nothing; "excl. floor" subtracts it too.',
        `Estimated at 1 in flight: at ${c} in flight every figure includes queueing behind other requests`,
        '(that pass gets the Node-based arithmetic in the --json output, overhead_estimate_ms.throughput; the I/O probe runs at 1 in flight only).',
      ].join('\n'),
    ),
    section(
      'Callbacks: latency from the status change answered to the callback received',
      callbackLatencyTable(callbacks),
    ),
    section(
      'Callbacks: deliveries per second to a local receiver, DB round trips per delivery',
      [callbackThroughputTable(callbacks), '', callbackNotes(callbacks)].join('\n'),
    ),
    section(
      'Document uploads (KYC, multipart): time through the gateway vs straight to the sFOX sandbox',
      uploadTimeTable(uploads),
    ),
    section(
      'Document uploads: 10 MiB throughput in turns (gateway, a pass-through Worker, direct)',
      uploadThroughputTable(uploads),
    ),
    section(
      'Document uploads: resident memory of workerd and of the Node process',
      [uploadMemoryTable(uploads), '', uploadNotes(uploads)].join('\n'),
    ),
    section('Worker bundle: its ten largest modules and areas by gzip size', largestModulesTable(bundle)),
    section(
      "Worker cold start: the isolate's CPU evaluating the bundle (a fresh workerd each run)",
      startupReport(startup),
    ),
    section('Targets', verdictLines(targets)),
    section('Summary: every flow on one line; the Worker bundle', summaryReport(summary, { throughput, latency })),
    `bench took ${seconds()} s`,
  ]
  process.stdout.write(`${out.join('\n\n')}\n`)

  if (options.json) {
    await writeJsonReport(options.json, options, info, { throughput, latency }, callbacks, targets, {
      uploads,
      bundle,
      summary,
    })
    progress(`wrote ${options.json}`)
  }
} finally {
  await stack.close()
}
