import { bundleVerdict, overheadOf, ROUND_TRIP_KIND, type Verdict } from './analysis'
import type { CallbackResults, CallbackRun } from './callbacks'
import { CPU_JUDGE_LABELS, CPU_JUDGE_STEPS, type CpuJudgeResults, roundsRangeUs } from './cpu-judge'
import { IO_PROBE_BATCH, IO_PROBE_LABELS, IO_PROBE_STALL_MS, IO_PROBES, type IoProbeResults } from './io-probe'
import type { Measured } from './measure'
import { median } from './memory'
import { LABELS, OPS, opsOf, type Provider } from './ops'
import type { BenchOptions } from './options'
import type { RunInfo } from './run-info'
import type { PassResults } from './scenario'
import type { Summary } from './summary'
import { fmt, signed, table } from './table'
import {
  type ProcessMemory,
  type ProcessName,
  THROUGHPUT_SIDES,
  type ThroughputSide,
  UPLOAD_SIZES,
  UPLOAD_WARMUP,
  type UploadPhase,
  type UploadResults,
} from './uploads'

const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? Number.NaN : a / b

/** A round-trip figure, marked when the phase outlasted the key cache (a reload may be in it). */
const roundTrips = (m: Measured & { keyCacheWarm?: boolean }) =>
  `${fmt(m.roundTripsPerOp)}${m.keyCacheWarm === false ? ' (cache expired!)' : ''}`

export const floorsTable = (pass: PassResults) => {
  const rows: [string, Measured & { keyCacheWarm?: boolean }][] = [
    ['gateway GET /nope (404, no DB), HTTP', pass.floors.gateway],
    ...(pass.floors.dispatch ? [['gateway GET /nope, dispatchFetch', pass.floors.dispatch] as [string, Measured]] : []),
    ['sFOX sandbox GET /nope (404), HTTP', pass.floors.direct],
    ['QI sandbox GET /_sandbox/nope (404), HTTP', pass.floors.directQi],
    ['QI request signature, ES512 P-521 (Node jose, 1 at a time)', pass.floors.qiSign],
    ['DB: write batch of 1 UPDATE (Node)', pass.db.update],
    ['DB: SELECT by primary key (Node)', pass.db.select],
  ]
  return table(
    ['floor / round trip', 'count', 'ops/s', 'p50 ms', 'p99 ms', 'DB RT/op'],
    rows.map(([name, m]) => [name, String(m.count), fmt(m.opsPerSec, 0), fmt(m.p50), fmt(m.p99), roundTrips(m)]),
  )
}

/** One provider's ops side by side; the sFOX table also carries the create+confirm flows. */
export const opsTable = (pass: PassResults, provider: Provider) => {
  const row = (name: string, gw: Measured & { keyCacheWarm?: boolean }, direct: Measured | null) => [
    name,
    String(gw.count),
    fmt(gw.opsPerSec, 0),
    fmt(direct?.opsPerSec, 0),
    fmt(ratio(gw.opsPerSec, direct?.opsPerSec)),
    fmt(gw.p50),
    fmt(gw.p99),
    fmt(direct?.p50),
    fmt(direct?.p99),
    fmt(ratio(gw.p50, direct?.p50), 1),
    roundTrips(gw),
  ]
  const rows = opsOf(provider).map((op) => row(LABELS[op], pass.ops[op].gateway, pass.ops[op].direct))
  if (provider === 'sfox' && pass.flows)
    rows.push(row('create+confirm flow (flows/s)', pass.flows.gateway, pass.flows.direct))
  return table(
    [
      'op (gateway over HTTP vs direct)',
      'count',
      'gw ops/s',
      'direct ops/s',
      'ops/s gw/direct',
      'gw p50',
      'gw p99',
      'direct p50',
      'direct p99',
      'p50 gw/direct',
      'DB RT/op',
    ],
    rows,
  )
}

export const dispatchTable = (pass: PassResults) =>
  table(
    [
      'op (gateway: dispatchFetch vs HTTP)',
      'HTTP p50',
      'dispatch p50',
      'difference',
      'HTTP ops/s',
      'dispatch ops/s',
      'dispatch DB RT/op',
    ],
    OPS.flatMap((op) => {
      const { gateway, dispatch } = pass.ops[op]
      if (!dispatch) return []
      return [
        [
          LABELS[op],
          fmt(gateway.p50),
          fmt(dispatch.p50),
          signed(dispatch.p50 - gateway.p50),
          fmt(gateway.opsPerSec, 0),
          fmt(dispatch.opsPerSec, 0),
          roundTrips(dispatch),
        ],
      ]
    }),
  )

const percent = (share: number | undefined) => (share === undefined ? '-' : `${(share * 100).toFixed(0)}%`)

/** The I/O probe: each kind of I/O the gateway does, from Node and from inside workerd, side by side. */
export const ioProbeTable = (probe: IoProbeResults) =>
  table(
    [
      'I/O probe (ms per call)',
      'calls/side',
      'Node: 1 call p50',
      'Node: typical',
      'workerd: typical',
      'workerd - Node',
      'workerd: 1 call p50 (est.)',
      'Node: batch p50',
      'workerd: batch p50',
      'stalls Node / workerd',
    ],
    IO_PROBES.map((kind) => {
      const { node, workerd, delta, workerdPerCallP50 } = probe.probes[kind]
      return [
        IO_PROBE_LABELS[kind],
        String(workerd.calls),
        fmt(node?.perCallP50),
        fmt(node?.typical),
        fmt(workerd.typical),
        delta === null ? '- (no Node side)' : signed(delta),
        `${fmt(workerdPerCallP50)}${node ? '' : ' (typical)'}`,
        fmt(node?.batchP50),
        fmt(workerd.batchP50),
        `${percent(node?.stallShare)} / ${percent(workerd.stallShare)}`,
      ]
    }),
  )

/** What the probe is and how it is timed: printed under its table. */
export const ioProbeNotes = (probe: IoProbeResults) =>
  [
    `A probe Worker (@libsql/client/web bundled by wrangler's esbuild, ${(probe.bundleBytes / 1024).toFixed(0)} KiB; prepared, bundled and started in ${fmt(probe.startMs, 0)} ms) runs in a`,
    "workerd of its own (a second Miniflare with the gateway's compatibility date and flags, stopped before the gateway's ops) and makes",
    'each kind of call the gateway makes, the way the gateway makes it; the same calls from Node (the bench process) come right before',
    `or after, the sides alternating over ${probe.rounds} rounds.`,
    `DB: the gateway's own libSQL server and database, in a table of the probe's (${probe.database});`,
    "the Node DB probe's statements (a write batch of 1 UPDATE: BEGIN IMMEDIATE ... COMMIT in one pipeline; a SELECT by primary key)",
    'with @libsql/client/web, one client per probe request as the gateway has one per request. sFOX: the resend of one pending transfer,',
    "exactly the bench's direct resend (POST, the account's key, the answer read to the end). QI: the unsigned control route of the QI",
    "floor, a transport-cost proxy (a signed call would need the partner's key and ES512 signing inside the probe); the QI sandbox's own",
    "work on real calls stays in their direct p50. DO: the gateway's own PartnerRateLimiter, bundled into the probe, called as",
    'src/middleware/rate-limit.ts calls it: get(idFromName(...)).take(limit, window), a new stub per call.',
    "Timing: workerd's clock stands still while JavaScript runs, moves only when I/O completes, and counts whole milliseconds. The probe",
    "reads it right after each awaited call: between two readings lies the call's whole wall time, its JavaScript (the client's, the",
    "probe's) included, in whole ms. Node's side is read the same way (performance.now() floored to the ms) and timed exactly too.",
    `typical = mean of those whole-ms durations, calls of ${probe.stallMs} ms or more left out as stalls (GC pauses, the scheduler; "stalls" = their`,
    'share): with the phase against the ticks random, a mean of ticks is a mean of durations, where a median of ticks would read 0 or 1.',
    '"workerd - Node" compares the runtimes typical to typical; "workerd: 1 call p50 (est.)" = Node: 1 call p50 + (workerd - Node), the',
    'figure the workerd-based estimate uses beside p50s of single ops (for the DO call, with no Node side, its typical call).',
    `batch p50 = median over batches of ${probe.batchSize} consecutive calls of their mean: what the clock gives without trimming, nearer a mean than`,
    'a median (reference only). From Node, the client and the sandbox or libSQL server share one event loop; from workerd, the client',
    "runs in workerd's process: what each runtime really pays per call.",
  ].join('\n')

export const overheadTable = (pass: PassResults) =>
  table(
    [
      'op (ms, p50)',
      'gateway',
      'floor',
      'DB RT/op',
      'Node: direct',
      'Node: 1 DB RT',
      'Node: = I/O',
      'Node-based incl. floor',
      'Node-based excl. floor',
      'workerd: provider',
      'workerd: 1 DB RT',
      'DB exec/op',
      'DO',
      'workerd: = I/O',
      'workerd-based incl. floor',
      'workerd-based excl. floor',
      'Node-based - workerd-based',
    ],
    OPS.map((op) => {
      const o = overheadOf(pass, op)
      const n = o.nodeBased
      const w = o.workerdBased
      const hasDirect = pass.ops[op].direct !== null
      return [
        LABELS[op],
        fmt(o.gatewayP50),
        fmt(o.floorP50),
        fmt(o.roundTripsPerOp),
        hasDirect ? fmt(n.providerP50) : '- (none)',
        `${fmt(n.dbRoundTripP50)} ${ROUND_TRIP_KIND[op]}`,
        fmt(n.ioP50),
        signed(n.includingFloor),
        signed(n.excludingFloor),
        w ? (hasDirect ? fmt(w.providerP50) : '- (none)') : '-',
        w ? fmt(w.dbRoundTripP50) : '-',
        w ? fmt(w.dbServeMs) : '-',
        w ? `${w.doCalls} x ${fmt(w.doP50)}` : '-',
        w ? fmt(w.ioP50) : '-',
        w ? signed(w.includingFloor) : '-',
        w ? signed(w.excludingFloor) : '-',
        w ? signed(n.excludingFloor - w.excludingFloor) : '-',
      ]
    }),
  )

const runName = (r: CallbackRun) =>
  r.closedLoop
    ? 'one at a time (waits for its callbacks)'
    : `burst, ${r.concurrency} in flight${r.receiverDelayMs ? `, receiver +${r.receiverDelayMs} ms` : ''}`

const runs = (cb: CallbackResults) => [cb.latency, cb.burst, ...(cb.delayed ? [cb.delayed] : [])]

/** Latency from the gateway's answer to the status change to the callback's arrival, per run and event. */
export const callbackLatencyTable = (cb: CallbackResults) =>
  table(
    ['callback latency (ms, answer -> receipt)', 'callbacks', 'p50', 'p99', 'mean', 'min', 'max'],
    runs(cb).flatMap((r) =>
      (['transfer.created', 'transfer.completed', 'all'] as const).map((kind) => {
        const l = r.latency[kind]
        return [`${runName(r)}: ${kind}`, String(l.count), fmt(l.p50), fmt(l.p99), fmt(l.mean), fmt(l.min), fmt(l.max)]
      }),
    ),
  )

/** Deliveries per second at the receiver, and what the runs cost the database per delivery. */
export const callbackThroughputTable = (cb: CallbackResults) =>
  table(
    [
      'run',
      'status changes',
      'changes/s',
      'callbacks',
      'deliveries/s',
      'first->last receipt ms',
      'end-to-end cb/s',
      'drain ms',
      'drain cb/s',
      'max open at receiver',
      'out of order',
      'dup',
      'DB RT total',
      'DB RT/delivery',
    ],
    runs(cb).map((r) => [
      runName(r),
      String(r.statusChanges),
      fmt(r.requests.opsPerSec, 0),
      `${r.received}/${r.expected}`,
      fmt(r.deliveriesPerSec, 0),
      fmt(r.firstToLastReceiptMs, 0),
      fmt(r.endToEndPerSec, 0),
      fmt(r.drainMs, 0),
      fmt(r.drainPerSec, 0),
      String(r.maxInFlight),
      String(r.outOfOrder),
      String(r.duplicates),
      String(r.roundTrips),
      fmt(r.roundTripsPerDelivery),
    ]),
  )

export const callbackNotes = (cb: CallbackResults) => {
  const signatures = runs(cb).reduce(
    (s, r) => ({ checked: s.checked + r.signatures.checked, verified: s.verified + r.signatures.verified }),
    { checked: 0, verified: 0 },
  )
  return [
    'status change = an sFOX PAYOUT create (answered "completed"): 2 callbacks, transfer.created and transfer.completed.',
    "latency: performance.now() at the receiver minus performance.now() when the gateway's answer arrived (same process, same clock).",
    'deliveries/s = (callbacks - 1) / (last receipt - first receipt); end-to-end = callbacks / (last receipt - first status change sent);',
    'drain = last receipt - last status change answered; drain cb/s = callbacks received in that time / that time (the backlog',
    'alone, no status changes competing; - for fewer than 10); max open = most callbacks in progress at the receiver at one time;',
    'out of order = status changes whose transfer.completed arrived before their transfer.created; dup = same webhook-id twice.',
    `DB RT/delivery = (round trips of the run - status changes x ${fmt(cb.createAlone.roundTripsPerOp)}, a PAYOUT create's own round trips measured`,
    `with no endpoint registered (${cb.createAlone.count} creates)) / callbacks. Queue sends are not DB round trips.`,
    `signatures: ${signatures.verified} of ${signatures.checked} sampled callbacks (1 in 25) verified with the standardwebhooks package.`,
  ].join('\n')
}

/** Each upload size through the gateway vs straight to the sandbox, one at a time. */
export const uploadTimeTable = (u: UploadResults) =>
  table(
    [
      'upload (1 in flight)',
      'count',
      'gw p50',
      'gw p99',
      'direct p50',
      'direct p99',
      'p50 gw/direct',
      'gw uploads/s',
      'gw MiB/s',
      'direct MiB/s',
      'DB RT/upload',
    ],
    u.sizes.map(({ label, gateway, direct }) => [
      label,
      String(gateway.count),
      fmt(gateway.p50),
      fmt(gateway.p99),
      fmt(direct.p50),
      fmt(direct.p99),
      fmt(ratio(gateway.p50, direct.p50), 1),
      fmt(gateway.opsPerSec, 1),
      fmt(gateway.mibPerSec, 1),
      fmt(direct.mibPerSec, 1),
      roundTrips(gateway),
    ]),
  )

const THROUGHPUT_LABELS: Record<ThroughputSide, string> = {
  gateway: 'through the gateway',
  passthrough: 'a pass-through Worker',
  hashing: 'a hashing pass-through Worker',
  direct: 'straight to the sandbox',
}

/** The 10 MiB upload in interleaved rounds: each side's median and mean, and its share of direct's MiB/s. */
export const uploadThroughputTable = (u: UploadResults) => {
  const { sides, rounds, perTurn, bytes } = u.throughput
  return [
    table(
      [
        '10 MiB upload, in turns',
        'count',
        'p50 ms',
        'p99 ms',
        'mean ms',
        'MiB/s at p50',
        'MiB/s mean',
        'of direct (p50)',
      ],
      THROUGHPUT_SIDES.map((side) => [
        THROUGHPUT_LABELS[side],
        String(sides[side].count),
        fmt(sides[side].p50),
        fmt(sides[side].p99),
        fmt(sides[side].mean),
        fmt(sides[side].mibPerSecP50, 1),
        fmt(sides[side].mibPerSecMean, 1),
        fmt(sides[side].mibPerSecP50 / sides.direct.mibPerSecP50),
      ]),
    ),
    '',
    `${rounds} rounds; in each, every side takes a turn of ${perTurn} uploads of ${bytes.toLocaleString('en-US')} bytes (the order rotating), after ${UPLOAD_WARMUP} untimed each.`,
    'The pass-through Worker forwards the body untouched (workerd pipes it natively): the floor of any Worker between the client and sFOX here.',
    'The hashing one reads the body as the gateway does and passes every byte through SHA-256 on its way to sFOX, nothing else: what hashing alone costs a Worker in the middle.',
    "The target judges the gateway's median against direct's; the phases above (one side after the other) give the memory figures.",
  ].join('\n')
}

const mib = (kib: number | null | undefined) => fmt(kib === null || kib === undefined ? kib : kib / 1024, 1)
/** MiB with one decimal and a sign; a difference that rounds to nothing is +0.0, never -0.0. */
const signedMib = (kib: number) => {
  const rounded = Math.round(kib / 102.4) / 10
  return signed(rounded === 0 ? 0 : rounded, 1)
}
const overBaseline = (m: ProcessMemory, kib: number | null) => (kib === null ? '-' : signedMib(kib - m.baselineKib))

const PROCESS_NAMES: Record<ProcessName, string> = {
  workerd: 'workerd (the gateway)',
  node: 'Node (client, sandboxes, libSQL)',
}

/** Resident memory of workerd and of the Node process during each phase, MiB. */
export const uploadMemoryTable = (u: UploadResults) => {
  const rows = u.sizes.flatMap(({ label, gateway, direct }) =>
    (['workerd', 'node'] as const).flatMap((name) =>
      (
        [
          ['gateway', gateway],
          ['direct', direct],
        ] as [string, UploadPhase][]
      ).flatMap(([side, phase]) => {
        const m = phase.memory?.[name]
        if (!m) return []
        return [
          [
            `${label} ${side} uploads: ${PROCESS_NAMES[name]}`,
            mib(m.baselineKib),
            overBaseline(m, m.uploads[0]?.peakKib ?? null),
            overBaseline(m, m.peakKib),
            overBaseline(m, m.hwmKib),
            signedMib(median(m.uploads.filter((x) => !x.warmup).map((x) => x.peakKib - x.beforeKib))),
            overBaseline(m, m.afterKib),
            String(m.samples),
          ],
        ]
      }),
    ),
  )
  return table(
    [
      'RSS during the phase (MiB)',
      'baseline',
      '1st upload peak - base',
      'peak - base',
      'VmHWM - base',
      'rise per upload, p50',
      'after - base',
      'samples',
    ],
    rows,
  )
}

export const uploadNotes = (u: UploadResults) => {
  const s = u.sampling
  const sampling = s.available
    ? [
        `VmRSS of workerd (pid ${s.workerdPid ?? 'not found'}, Miniflare's child) and of this Node process (pid ${s.nodePid}) read from /proc every ${s.intervalMs} ms by a worker thread.`,
        `workerd's RSS was ${mib(s.workerdAtStartKib)} MiB before the run's first request; the phases before the uploads raised it to the 100 KiB baseline.`,
      ].join('\n')
    : 'no /proc on this system: no memory figures.'
  return [
    `${u.count} timed uploads per size and side, one at a time, after ${u.sizes[0]?.gateway.warmup ?? 0} untimed; one PDF part of exactly the size (random bytes, so`,
    'nothing compresses it), file_types {"passport.pdf":"ID"}; through the gateway POST /v1/users/{user_id}/documents (no Idempotency-Key:',
    'each is a new submission sent to sFOX), direct POST /v1/enterprise/ddq/upload with user_id. Each body is encoded once, before its phase.',
    'MiB/s = file bytes of the timed uploads / their wall time; DB RT/upload as for the ops (insert the submission, record the outcome).',
    sampling,
    `baseline = median RSS over ${s.idleWindowMs} ms idle before the phase's first upload; 1st upload peak = highest sample during the first (cold,`,
    'untimed) upload: one upload with nothing left over from others; peak = highest sample from the first upload to the last (warm-up',
    `included); VmHWM = the kernel's exact peak over the same time (reset through clear_refs${s.hwm.workerd ? '' : ': refused here, so -'}); rise per upload =`,
    'highest sample during a timed upload - the sample just before it, median; after = median over the idle window after the last upload',
    '(what stayed resident).',
    "workerd's RSS is the whole runtime: Miniflare's entry worker that proxies each request, the gateway isolate (V8 heap and the",
    "buffers it holds: the parsed form's File), the Durable Object, and the runtime's own I/O buffers. The Workers limit of 128 MB",
    "applies per isolate (its heap and what it holds), not to this process's RSS: peak - base is what the whole process needed at",
    'its peak, of which the isolate is a part; memory already resident (freed earlier, not returned to the OS) can be reused without',
    'showing, which is also why "after" need not fall back to the baseline. Node\'s RSS holds the bench\'s client and the sFOX sandbox,',
    "which receives every upload, the forwarded ones too: it compares the two sides' load on this machine, not the gateway, and",
    "V8's garbage collector decides when it falls. workerd during the direct uploads is the control: it has nothing to do.",
  ].join('\n')
}

export const verdictLines = (lines: Verdict[]) =>
  lines.map((l) => `${l.pass === null ? 'INFO' : l.pass ? 'PASS' : 'MISS'}  ${l.text}`).join('\n')

export const section = (title: string, body: string) => `${title}\n${'='.repeat(title.length)}\n${body}`

const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ')

/** What was run, on what, and the settings a reader needs to judge the figures. */
export const header = (options: BenchOptions, info: RunInfo) =>
  [
    'transfer-gateway bench: the gateway (Worker bundle in workerd via Miniflare) vs the same calls straight to the sFOX and QI sandboxes; callbacks to a local receiver',
    `throughput pass: ${options.n} ops per sFOX phase and side (${options.qiN} per QI phase), ${options.concurrency} in flight; latency pass: ${options.latencyN} per sFOX phase and side (${options.qiLatencyN} per QI phase), 1 in flight`,
    `${options.warmup} warm-up flows per side and provider; p99 is nearest-rank (with fewer than 100 ops, the largest)`,
    `callbacks: ${options.callbacksN} status changes one at a time; bursts of ${options.callbacksBurst} callbacks, ${options.burstConcurrency} status changes in flight${options.callbackDelayMs ? `, the second with a receiver answering after ${options.callbackDelayMs} ms` : ''}`,
    options.ioProbeN > 0
      ? `I/O probe (latency pass): ${options.ioProbeN} timed calls per probe and side (rounded up to batches of ${IO_PROBE_BATCH}), from Node and from a probe Worker in a second workerd (Miniflare); stalls >= ${IO_PROBE_STALL_MS} ms trimmed`
      : 'I/O probe: off (--io-probe-n 0); the targets use the Node-based estimate',
    `document uploads: ${options.uploadsN} per size (${UPLOAD_SIZES.map((s) => `${s.label} = ${s.bytes.toLocaleString('en-US')} bytes`).join(', ')}; 10 MiB is the gateway's per-file limit) and side, 1 in flight`,
    `machine: ${info.cpus} CPUs, Node ${info.node}, load average ${loads(info.loadAtStart)} at start, ${loads(info.loadAtEnd)} at end`,
    `sFOX sandbox: per-IP rate limit OFF for the bench (rate_limit.enabled=false); fixed OTP ${info.fixedOtp}, so flows read no outbox`,
    `QI sandbox: fixed token ${info.qiToken} (fixed_token), answers signed (ES512 in AUTHORIZATION), no status webhooks (integrations without webhook_url);`,
    '  direct QI requests are signed before their phase, so "direct" is the sandbox and the transport only; the gateway signs each request',
    '  and verifies each signed answer inside its timed op (gateway time, not I/O)',
    `gateway: RATE_LIMIT=${info.rateLimit} partner requests per window (binding; the default 100 per 10 s would stop the bench), WEBHOOK_ALLOW_HTTP and _PRIVATE_HOSTS true`,
    `key cache: API_KEY_CACHE_SECONDS=${info.keyCacheSeconds} (wrangler.toml); each gateway phase uses a new key, loaded before the phase, so every phase runs with a warm cache`,
    'DB RT/op: pipeline + cursor requests the local libSQL server counted during the phase (one op type per phase) / its ops',
    'load generator, sandboxes, receiver and libSQL server share one Node event loop; workerd is its own process',
  ].join('\n')

/** The CPU judge: workerd's CPU per gateway request beside the same for a replay of its I/O alone. */
export const cpuJudgeTable = (cpu: CpuJudgeResults) =>
  table(
    [
      'request (µs of CPU per request)',
      'beyond I/O, median pair',
      'per round: lowest to highest',
      'interleaved: beyond (gw/replay p50)',
      'gw p50',
      'replay p50',
      'beyond I/O p50',
      'gw mean',
      'replay mean',
      'beyond mean',
      'beyond mean, all threads',
      'gw p99',
      'replay: DO, DB RTs (bytes out/in), provider call, log lines, answer',
    ],
    CPU_JUDGE_STEPS.map((step) => {
      const row = cpu.rows[step]
      const { gateway, replay, beyondUs, beyondP50Us, beyondMeanUs, beyondAllMeanUs, shape } = row
      const db = shape.dbRoundTrips ? `${shape.dbRoundTrips} (${shape.dbRequestBytes}/${shape.dbResponseBytes} B)` : '0'
      return [
        CPU_JUDGE_LABELS[step],
        fmt(beyondUs, 0),
        roundsRangeUs(row),
        `${fmt(row.interleaved.beyondUs, 0)} (${fmt(row.interleaved.gatewayP50Us, 0)}/${fmt(row.interleaved.replayP50Us, 0)})`,
        fmt(gateway.loopP50Us, 0),
        fmt(replay.loopP50Us, 0),
        fmt(beyondP50Us, 0),
        fmt(gateway.loopMeanUs, 0),
        fmt(replay.loopMeanUs, 0),
        fmt(beyondMeanUs, 0),
        fmt(beyondAllMeanUs, 0),
        fmt(gateway.loopP99Us, 0),
        `${shape.rateLimit}, ${db}, ${shape.sfox ?? shape.qi ?? '-'}, ${shape.logLines} (${shape.logBytes} B), ${shape.responseBytes} B + ${shape.responseHeaders} headers`,
      ]
    }),
    [12],
  )

export const cpuJudgeNotes = (cpu: CpuJudgeResults) =>
  [
    `${cpu.requestsPerStep} judged requests per row and side, 1 in flight, the gateway's and the replay's taking turns ${cpu.block} requests at a time over ${cpu.rounds / 2} rounds, after ${cpu.warmup} untimed ones;`,
    `between them, ${cpu.rounds / 2} rounds of as many taking turns request by request ("interleaved"); each pair of rounds the other side first. In blocks each`,
    'side serves requests back to back, as in the latency pass whose gateway time this takes apart; interleaved, each request also',
    "refills the caches the other workerd's request took (more for the larger program).",
    "CPU = nanoseconds workerd's event-loop thread spent on a CPU (/proc/<pid>/task/<tid>/schedstat) in each request's window, from its",
    "start to the next one's: that thread runs all JavaScript and all of workerd's own I/O; at 1 in flight a request's time is that CPU",
    "plus waiting. replay = a Worker in a second workerd (the same Miniflare set-up) replaying the request's I/O and nothing else: the",
    "same request in, the rate limiter's DO call (before the work, or beside a GET's read), as many DB round trips with the bytes the",
    "libSQL server counted for the gateway's (a padded SELECT), the same sFOX call, the gateway's log lines for such a request (workerd's",
    "local console formats and flushes each line to stdout, which production does not: the runtime's output, as I/O), and the",
    "gateway's own answer back, headers included (building its log line stays the gateway's work).",
    "beyond I/O = gateway - replay: the gateway's own work (routing, middleware, zod, JSON, SQL, the state machine, decoding the",
    'answers: the replay parses nothing, so decoding counts against the gateway). p50s are of single requests. The target judges',
    '"beyond I/O, median pair": the median over all pairs of a gateway request\'s CPU less that of the replay request run right',
    'beside it, so the machine\'s drift (its speed moves within seconds here) hits both; "per round" is that median',
    'within each round; "beyond I/O p50" is the whole phases\' p50s less each other.',
    '"all threads" adds V8\'s concurrent GC and compiler threads, which run beside the request, not in its path.',
  ].join('\n')

/** The summary table, its legend and the bundle line: the last thing `npm run bench` prints. */
export const summaryReport = (s: Summary, passes: { throughput: PassResults; latency: PassResults }) =>
  [
    table(
      ['flow / op', 'gw p50 ms', 'direct p50 ms', 'gw/direct', 'gw ops/s', 'DB RT/op', 'verdict', 'note'],
      s.rows.map((r) => [
        r.flow,
        fmt(r.gatewayP50),
        fmt(r.directP50),
        fmt(r.ratio, 1),
        fmt(r.opsPerSec, r.opsPerSec !== null && r.opsPerSec < 10 ? 1 : 0),
        fmt(r.roundTripsPerOp),
        r.verdict,
        r.note,
      ]),
      [6, 7],
    ),
    '',
    `p50s: latency pass (1 in flight); ops/s: throughput pass (${passes.throughput.concurrency} in flight); uploads 1 in flight, callbacks deliveries/s;`,
    'DB RT/op: the worst of the passes (per delivery for callbacks, per upload for uploads); verdict: PASS = every target of the row met',
    '(the Targets section above lists each), MISS names the missed ones, INFO = no target; "beyond I/O (measured CPU)" is the CPU',
    "judge's figure, elsewhere (QI, or without the judge) the estimate explained above (workerd-based when the I/O probe ran).",
    '',
    verdictLines([bundleVerdict(s.bundle)]),
  ].join('\n')
