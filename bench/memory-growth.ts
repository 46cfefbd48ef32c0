// `npm run bench:memory`: memory under sustained load. The built Worker in workerd (Miniflare, no
// wrangler dev), ≥ 10,000 mixed partner requests with dead callback receivers registered; the
// isolates' JS heaps through workerd's inspector (used, and after a forced GC) and each process's
// RSS from /proc, per round and every few seconds. Tables to stdout, progress to stderr; exits 1
// when the gateway isolate's heap after GC grows beyond the bound per 1,000 requests.
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createClient } from '@libsql/client'
import { generateP521KeyPair } from '../sandbox/qi/keys'
import { startQiSandbox } from '../sandbox/qi/server'
import { hangingReceiver, refusingReceiver } from './dead-receivers'
import { gatewayOps, setupPartner } from './gateway'
import { httpTransport } from './http'
import { heapSummary, type IsolateHeap, readAllHeaps, readGatewayHeap } from './isolate-heap'
import { runConcurrent } from './load'
import { findDescendants, procAvailable, residentKib, startRssSampler } from './memory'
import { freePort } from './profile/inspector'
import { QI_TOKEN, registerQiIntegration } from './qi-control'
import { startReceiver } from './receiver'
import { startLeanStack } from './stack'
import { fmt, signed, table } from './table'

const USAGE = `npm run bench:memory [-- --requests 12000 --rounds 6 --concurrency 8 --refusing 2 --hanging 2
                          --warmup 600 --idle-s 25 --sample-s 3 --max-growth-kib 64 --snapshots --json out.json]

  --requests <count>        mixed partner requests after the warm-up (default 12000)
  --rounds <count>          rounds they are split into; heaps after GC are read between rounds (default 6)
  --concurrency <count>     flows in flight (default 8)
  --refusing <count>        registered receivers whose port refuses connections (default 2)
  --hanging <count>         registered receivers that accept and never answer (default 2)
  --warmup <count>          requests before the baseline (default 600)
  --idle-s <s>              idle time after the load, before the last reading (default 25: a hung delivery's
                            15 s timeout and the first 5 s retry end)
  --sample-s <s>            heap (without GC) and RSS sample interval during the load (default 3)
  --max-growth-kib <KiB>    bound: gateway heap after GC, growth per 1,000 requests (default 64)
  --snapshots               also diff two heap snapshots of the gateway isolate (what grows, by constructor)
  --json <file>             also write every figure as JSON
`

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    requests: { type: 'string' },
    rounds: { type: 'string' },
    concurrency: { type: 'string' },
    refusing: { type: 'string' },
    hanging: { type: 'string' },
    warmup: { type: 'string' },
    'idle-s': { type: 'string' },
    'sample-s': { type: 'string' },
    'max-growth-kib': { type: 'string' },
    snapshots: { type: 'boolean' },
    json: { type: 'string' },
    help: { type: 'boolean' },
  },
})
if (flags.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}
const num = (raw: string | undefined, fallback: number) => {
  const value = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new Error(`not a count: ${raw}\n\n${USAGE}`)
  return value
}
const options = {
  requests: num(flags.requests, 12_000),
  rounds: Math.max(1, num(flags.rounds, 6)),
  concurrency: Math.max(1, num(flags.concurrency, 8)),
  refusing: num(flags.refusing, 2),
  hanging: num(flags.hanging, 2),
  warmup: num(flags.warmup, 600),
  idleS: num(flags['idle-s'], 25),
  sampleS: Math.max(0.5, num(flags['sample-s'], 3)),
  maxGrowthKib: num(flags['max-growth-kib'], 64),
  snapshots: flags.snapshots ?? false,
  json: flags.json,
}

const root = resolve(import.meta.dirname, '..')
const started = performance.now()
const elapsedS = () => (performance.now() - started) / 1000
const progress = (line: string) => process.stderr.write(`[memory ${elapsedS().toFixed(1)} s] ${line}\n`)
const MiB = 1024 * 1024
const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined ? Number.NaN : bytes / MiB)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

if (!procAvailable()) progress('no /proc: RSS figures are left out')

progress('building the Worker; starting libSQL, the sandboxes, the receivers and workerd with its inspector')
const inspectorPort = await freePort()
const stack = await startLeanStack(root, { name: 'memory', inspectorPort })
process.once('SIGINT', () => void stack.close().finally(() => process.exit(130)))

let sampling = true
try {
  const qi = await startQiSandbox({ port: 0, fixed_token: QI_TOKEN })
  stack.onClose(() => qi.close())
  const receiver = await startReceiver()
  stack.onClose(() => receiver.close())
  const refusing = await Promise.all(Array.from({ length: options.refusing }, refusingReceiver))
  const hanging = await Promise.all(Array.from({ length: options.hanging }, hangingReceiver))
  for (const dead of hanging) stack.onClose(() => dead.close())

  const http = httpTransport('gateway', stack.gateway.url)
  const qiKeys = generateP521KeyPair()
  const account = await stack.sfox.newAccount()
  const integration = await registerQiIntegration(qi.url, qiKeys.publicKeyPem)
  const partner = await setupPartner(
    http,
    stack.gateway.adminToken,
    {
      sfox: { url: stack.sfox.url, apiKey: account.api_key },
      qi: { url: qi.url, integration, privateKeyPem: qiKeys.privateKeyPem },
    },
    'Memory partner',
  )
  const key = await partner.issueKey()
  const gw = gatewayOps(http, () => key, integration.accountKey)
  receiver.trust(await gw.registerEndpoint(receiver.url))
  for (const dead of [...refusing, ...hanging]) await gw.registerEndpoint(dead.url)
  progress(
    `partner ready: 1 live receiver, ${refusing.length} refusing, ${hanging.length} hanging (WEBHOOK_TIMEOUT_MS as wrangler.toml: 15 s)`,
  )

  // The mix, per flow: sFOX create, GET, confirm, GET; every 4th flow also a QI create.
  let requests = 0
  let runId = 0
  const flow = (prefix: string) => async (i: number) => {
    const id = `${prefix}-${i}`
    await gw.create(id)
    await gw.get(id)
    await gw.confirm(id)
    await gw.get(id)
    requests += 4
    if (i % 4 === 0) {
      await gw.qiCreate(`${id}-ted`)
      requests += 1
    }
  }
  const REQUESTS_PER_FLOW = 4 + 1 / 4
  const drive = async (count: number) => {
    const prefix = `mem${runId++}`
    const flows = Math.ceil(count / REQUESTS_PER_FLOW)
    return runConcurrent(flows, options.concurrency, flow(prefix))
  }

  const workerdPids = findDescendants('workerd')
  const pids: Record<string, number> = { node: process.pid }
  workerdPids.forEach((pid, i) => (pids[workerdPids.length === 1 ? 'workerd' : `workerd${i + 1}`] = pid))
  const rssNow = () =>
    Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, residentKib(pid) ?? Number.NaN]))

  const db = createClient({ url: stack.gateway.dbUrl })
  stack.onClose(async () => db.close())
  const deliveryCounts = async () => {
    const rows = (await db.execute('SELECT status, count(*) AS n FROM deliveries GROUP BY status')).rows
    return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]))
  }

  type Reading = {
    label: string
    requests: number
    at: number
    heaps: IsolateHeap[]
    rssKib: Record<string, number>
    deliveries: Record<string, number>
    received: number
    hungConnections: number
  }
  const readings: Reading[] = []
  const read = async (label: string, gc = true): Promise<Reading> => {
    const heaps = await readAllHeaps(inspectorPort, { gc })
    const reading: Reading = {
      label,
      requests,
      at: elapsedS(),
      heaps,
      rssKib: rssNow(),
      deliveries: await deliveryCounts(),
      received: receiver.receipts().length,
      hungConnections: hanging.reduce((sum, h) => sum + h.connections().total, 0),
    }
    readings.push(reading)
    const gateway = heaps[0]!
    progress(
      `${label}: ${requests} requests; gateway heap ${fmt(mib(gateway.usedBytes), 1)} MiB, after GC ${fmt(mib(gateway.afterGcBytes), 2)} MiB; workerd RSS ${fmt((reading.rssKib.workerd ?? Number.NaN) / 1024, 0)} MiB`,
    )
    return reading
  }

  progress(`warm-up: ${options.warmup} requests`)
  await read('start')
  await drive(options.warmup)
  await sleep(2000)
  const snapshotBefore = options.snapshots ? await heapSummary(inspectorPort) : null
  const baseline = await read('baseline (after warm-up)')
  const baseRequests = requests

  // Every few seconds during the load: the gateway heap without GC, and RSS.
  type Sample = { at: number; requests: number; usedBytes: number; rssKib: Record<string, number> }
  const samples: Sample[] = []
  const sampler = (async () => {
    while (sampling) {
      const heap = await readGatewayHeap(inspectorPort, { gc: false }).catch(() => null)
      if (heap) samples.push({ at: elapsedS(), requests, usedBytes: heap.usedBytes, rssKib: rssNow() })
      await sleep(options.sampleS * 1000)
    }
  })()
  const rssTimeline = procAvailable() ? await startRssSampler(pids, 1000) : null

  const perRound = Math.ceil(options.requests / options.rounds)
  const loadStarted = performance.now()
  for (let round = 1; round <= options.rounds; round++) {
    await drive(perRound)
    await read(`round ${round}`)
  }
  const loadSeconds = (performance.now() - loadStarted) / 1000
  const loadRequests = requests - baseRequests
  sampling = false
  await sampler
  const after = await read('after the load (no GC)', false)
  const snapshotAfterLoad = options.snapshots ? await heapSummary(inspectorPort) : null
  progress(`idle ${options.idleS} s: hung deliveries time out, first retries run`)
  await sleep(options.idleS * 1000)
  const idle = await read('after idle + GC')
  const snapshotAfter = options.snapshots ? await heapSummary(inspectorPort) : null
  const rss = rssTimeline ? await rssTimeline.stop() : null

  // --- figures ----------------------------------------------------------------------------------
  const gatewayGc = (r: Reading) => r.heaps[0]!.afterGcBytes ?? Number.NaN
  const rounds = readings.filter((r) => r.label.startsWith('round '))
  /** Least-squares slope of y over x (per unit of x). */
  const slope = (points: [number, number][]) => {
    const n = points.length
    if (n < 2) return Number.NaN
    const mx = points.reduce((s, [x]) => s + x, 0) / n
    const my = points.reduce((s, [, y]) => s + y, 0) / n
    const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
    return points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx
  }
  const kiloRequests = loadRequests / 1000
  const perK = (from: number, to: number) => (to - from) / kiloRequests
  const gcPoints = [baseline, ...rounds].map((r) => [r.requests / 1000, gatewayGc(r)] as [number, number])
  const heapSlopeKib = slope(gcPoints) / 1024
  const heapEndToEndKib = perK(gatewayGc(baseline), gatewayGc(idle)) / 1024
  const rssKey = pids.workerd ? 'workerd' : Object.keys(pids).find((k) => k.startsWith('workerd'))!
  const rssSlopeKib = slope([baseline, ...rounds].map((r) => [r.requests / 1000, r.rssKib[rssKey] ?? Number.NaN]))
  const nodeRssSlopeKib = slope([baseline, ...rounds].map((r) => [r.requests / 1000, r.rssKib.node ?? Number.NaN]))

  const isolateNames = baseline.heaps.map((h) => h.target)
  const out: string[] = []
  out.push(
    `# Memory under sustained load: ${loadRequests} mixed requests in ${fmt(loadSeconds, 0)} s (${fmt(loadRequests / loadSeconds, 0)}/s), ${options.concurrency} flows in flight`,
    `mix per flow: sFOX create, GET, confirm, GET; every 4th flow a QI create. Receivers: 1 live, ${refusing.length} refusing, ${hanging.length} hanging.`,
    '',
    '## Readings (heap after a forced GC unless marked; MiB)',
    '',
    table(
      [
        'reading',
        'requests',
        ...isolateNames.map((n) => (n.startsWith('core:user') ? 'gateway used' : '')).filter(Boolean),
        'gateway after GC',
        ...isolateNames.slice(1).map((n) => `${n.replace(/^core:/, '')} after GC`),
        ...Object.keys(pids).map((p) => `${p} RSS`),
        'deliveries pending/delivered/failed',
        'received',
        'hung conns',
      ],
      readings.map((r) => [
        r.label,
        String(r.requests),
        fmt(mib(r.heaps[0]!.usedBytes), 2),
        fmt(mib(r.heaps[0]!.afterGcBytes), 2),
        ...r.heaps.slice(1).map((h) => fmt(mib(h.afterGcBytes), 2)),
        ...Object.keys(pids).map((p) => fmt((r.rssKib[p] ?? Number.NaN) / 1024, 1)),
        `${r.deliveries.pending ?? 0}/${r.deliveries.delivered ?? 0}/${r.deliveries.failed ?? 0}`,
        String(r.received),
        String(r.hungConnections),
      ]),
    ),
    '',
    `## During the load (every ${options.sampleS} s; no GC)`,
    '',
    table(
      ['t (s)', 'requests', 'gateway heap used', ...Object.keys(pids).map((p) => `${p} RSS`)],
      samples
        .filter((_, i) => samples.length <= 40 || i % Math.ceil(samples.length / 40) === 0)
        .map((s) => [
          fmt(s.at, 0),
          String(s.requests),
          fmt(mib(s.usedBytes), 1),
          ...Object.keys(pids).map((p) => fmt((s.rssKib[p] ?? Number.NaN) / 1024, 1)),
        ]),
    ),
    '',
    '## Growth per 1,000 requests',
    '',
  )
  const heapPass = !Number.isNaN(heapSlopeKib) && heapSlopeKib <= options.maxGrowthKib
  const rows: string[][] = [
    [
      'gateway isolate heap after GC (slope over rounds)',
      `${signed(heapSlopeKib, 1)} KiB`,
      `≈ 0, ≤ ${options.maxGrowthKib} KiB ${heapPass ? 'PASS' : 'MISS'}`,
    ],
    [
      'gateway isolate heap after GC (baseline → after idle)',
      `${signed(heapEndToEndKib, 1)} KiB`,
      `total ${signed(mib(gatewayGc(idle) - gatewayGc(baseline)), 2)} MiB`,
    ],
    ...isolateNames
      .slice(1)
      .map((name, i) => [
        `${name} heap after GC (baseline → after idle)`,
        `${signed(perK(baseline.heaps[i + 1]!.afterGcBytes ?? 0, idle.heaps[i + 1]?.afterGcBytes ?? 0) / 1024, 1)} KiB`,
        'Miniflare',
      ]),
    [`${rssKey} RSS (slope over rounds)`, `${signed(rssSlopeKib, 0)} KiB`, 'INFO'],
    [
      `${rssKey} RSS (baseline → after idle)`,
      `${signed(perK(baseline.rssKib[rssKey] ?? 0, idle.rssKib[rssKey] ?? 0), 0)} KiB`,
      'INFO',
    ],
    ['node RSS (harness, libSQL, sandboxes; slope)', `${signed(nodeRssSlopeKib, 0)} KiB`, 'INFO'],
  ]
  out.push(table(['figure', 'per 1,000 requests', 'target'], rows, [2]))
  if (rss) {
    const peak = (name: string) => Math.max(...(rss.kib[name] ?? []).filter((v) => !Number.isNaN(v)))
    out.push(
      '',
      `RSS peaks (1 s samples): ${Object.keys(pids)
        .map((p) => `${p} ${fmt(peak(p) / 1024, 0)} MiB`)
        .join(', ')}`,
    )
  }
  const diffOf = (
    before: Map<string, { count: number; bytes: number }>,
    later: Map<string, { count: number; bytes: number }>,
  ) =>
    [...new Set([...before.keys(), ...later.keys()])]
      .map((name) => {
        const a = before.get(name) ?? { count: 0, bytes: 0 }
        const b = later.get(name) ?? { count: 0, bytes: 0 }
        return { name, count: b.count - a.count, bytes: b.bytes - a.bytes }
      })
      .sort((x, y) => y.bytes - x.bytes)
      .slice(0, 15)
  for (const [label, later] of [
    ['right after the load', snapshotAfterLoad],
    ['after idle', snapshotAfter],
  ] as const) {
    if (!snapshotBefore || !later) continue
    out.push(
      '',
      `## Gateway isolate: heap snapshot after warm-up → ${label}, top growth by node (after GC)`,
      '',
      table(
        ['node (type: name)', 'count', 'KiB'],
        diffOf(snapshotBefore, later).map((d) => [
          d.name.replace(/\s+/g, ' '),
          signed(d.count, 0),
          signed(d.bytes / 1024, 1),
        ]),
      ),
    )
  }
  out.push(
    '',
    `In workerd the Worker's fetch handler, its Durable Object (the rate limiter) and its queue consumer share the gateway isolate;`,
    `the other isolates are Miniflare's (entry, the queue broker, …). "after the load" is read without GC, all others after a forced full GC.`,
    '',
    `${heapPass ? 'PASS' : 'MISS'}: gateway isolate heap after GC ${signed(heapSlopeKib, 1)} KiB per 1,000 requests (bound ${options.maxGrowthKib} KiB)`,
  )
  process.stdout.write(`${out.join('\n')}\n`)
  if (options.json) {
    writeFileSync(
      options.json,
      JSON.stringify(
        { options, loadRequests, loadSeconds, readings, samples, heapSlopeKib, heapEndToEndKib, rssSlopeKib, after },
        null,
        2,
      ),
    )
  }
  process.exitCode = heapPass ? 0 : 1
} catch (error) {
  process.stderr.write(`memory: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
} finally {
  sampling = false
  await stack.close()
}
