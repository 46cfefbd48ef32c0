// `npx tsx bench/dev-load.ts [--requests 5000]`: the same mixed load as `npm run bench:memory`, sent to a running
// `npm run dev` (wrangler dev), in two equal rounds, with dead callback receivers registered. Prints
// each round's throughput and the RSS of every process of the dev stack: the workerd processes,
// wrangler's node process and sandbox/dev.ts (libSQL server and sandboxes). It sets up a partner of
// its own through the admin API (ADMIN_TOKEN from <root>/.dev.vars) with its rate limit raised, and
// switches the sFOX sandbox's rate limit off.
import { readdirSync, readFileSync, realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { generateP521KeyPair } from '../sandbox/qi/keys'
import { hangingReceiver, refusingReceiver } from './dead-receivers'
import { gatewayOps, setupPartner } from './gateway'
import { expect, httpTransport, jsonInit } from './http'
import { runConcurrent } from './load'
import { findDescendants, residentKib } from './memory'
import { registerQiIntegration } from './qi-control'
import { startReceiver } from './receiver'
import { FIXED_OTP } from './stack'
import { fmt, table } from './table'

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    root: { type: 'string' },
    gateway: { type: 'string' },
    sfox: { type: 'string' },
    qi: { type: 'string' },
    requests: { type: 'string' },
    concurrency: { type: 'string' },
    refusing: { type: 'string' },
    hanging: { type: 'string' },
    'idle-s': { type: 'string' },
  },
})
const root = resolve(flags.root ?? resolve(import.meta.dirname, '..'))
const gatewayUrl = flags.gateway ?? 'http://127.0.0.1:8787'
const sfoxUrl = flags.sfox ?? 'http://127.0.0.1:8788'
const qiUrl = flags.qi ?? 'http://127.0.0.1:8789'
const perRound = Number(flags.requests ?? 6000)
const concurrency = Number(flags.concurrency ?? 8)
const idleS = Number(flags['idle-s'] ?? 20)
const progress = (line: string) => process.stderr.write(`[dev-load] ${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const devVars = Object.fromEntries(
  readFileSync(resolve(root, '.dev.vars'), 'utf8')
    .split('\n')
    .map((line) => /^\s*([A-Z0-9_]+)\s*=\s*(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!.trim()]),
)

/** The dev stack's processes: sandbox/dev.ts's node, and below it wrangler's node and the workerds. */
const devProcesses = (): Record<string, number> => {
  const cmdline = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
    } catch {
      return ''
    }
  }
  const pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p))
  const cwd = (pid: string) => {
    try {
      return realpathSync(`/proc/${pid}/cwd`)
    } catch {
      return ''
    }
  }
  // tsx runs the script in a child node (`node --require …/tsx/dist/preflight.cjs … sandbox/dev.ts`).
  const dev = pids.find((p) => {
    const c = cmdline(p)
    return c.includes('sandbox/dev.ts') && c.includes('preflight') && cwd(p) === realpathSync(root)
  })
  if (!dev) throw new Error(`no sandbox/dev.ts process for ${root}: is npm run dev running?`)
  const found: Record<string, number> = { 'sandbox/dev.ts': Number(dev) }
  const wrangler = findDescendants('node', Number(dev)).find((p) => cmdline(String(p)).includes('wrangler-dist/cli.js'))
  if (wrangler) found["wrangler's node"] = wrangler
  findDescendants('workerd', Number(dev)).forEach((pid, i) => (found[`workerd ${i + 1} (${pid})`] = pid))
  return found
}

const processes = devProcesses()
progress(`processes: ${JSON.stringify(processes)}`)
const rss = () => Object.fromEntries(Object.entries(processes).map(([n, pid]) => [n, (residentKib(pid) ?? NaN) / 1024]))

const http = httpTransport('gateway', gatewayUrl)
// The sandbox's 250 requests / 10 s per IP would stop the load at once; one code for every email.
await expect(
  fetch(`${sfoxUrl}/_sandbox/settings`, jsonInit('POST', { rate_limit: { enabled: false }, fixed_otp: FIXED_OTP })),
  200,
  'sFOX settings',
)
const account = (await (await fetch(`${sfoxUrl}/_sandbox/accounts`, jsonInit('POST', {}))).json()) as {
  data: { api_key: string }
}
const qiKeys = generateP521KeyPair()
const integration = await registerQiIntegration(qiUrl, qiKeys.publicKeyPem)
const partner = await setupPartner(
  http,
  devVars.ADMIN_TOKEN!,
  {
    sfox: { url: sfoxUrl, apiKey: account.data.api_key },
    qi: { url: qiUrl, integration, privateKeyPem: qiKeys.privateKeyPem },
  },
  `Dev load partner ${Date.now()}`,
)
await expect(
  http.fetch(`/admin/partners/${partner.id}`, jsonInit('PATCH', { rate_limit: 1_000_000 }, devVars.ADMIN_TOKEN)),
  200,
  'raise the rate limit',
)
const key = await partner.issueKey()
const gw = gatewayOps(http, () => key, integration.accountKey)
const receiver = await startReceiver()
receiver.trust(await gw.registerEndpoint(receiver.url))
const dead = [
  ...(await Promise.all(Array.from({ length: Number(flags.refusing ?? 2) }, refusingReceiver))),
  ...(await Promise.all(Array.from({ length: Number(flags.hanging ?? 2) }, hangingReceiver))),
]
for (const d of dead) await gw.registerEndpoint(d.url)
progress(`partner ${partner.id}: 1 live receiver, ${dead.length} dead; ${perRound} requests per round`)

let runId = 0
let requests = 0
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
const round = async () => {
  const before = requests
  const prefix = `dev${Date.now().toString(36)}r${runId++}`
  const sample = await runConcurrent(Math.ceil(perRound / 4.25), concurrency, flow(prefix))
  const done = requests - before
  const sorted = [...sample.latencies].sort((a, b) => a - b)
  return {
    requests: done,
    seconds: sample.elapsedMs / 1000,
    perSecond: done / (sample.elapsedMs / 1000),
    p99Flow: sorted[Math.floor(sorted.length * 0.99)] ?? NaN,
  }
}

const rows: { label: string; rss: Record<string, number>; round?: Awaited<ReturnType<typeof round>> }[] = []
rows.push({ label: 'before', rss: rss() })
const peak: Record<string, number> = {}
const timer = setInterval(() => {
  for (const [name, mib] of Object.entries(rss())) peak[name] = Math.max(peak[name] ?? 0, mib)
}, 2000)
for (const label of ['round 1', 'round 2']) {
  progress(`${label}…`)
  const result = await round()
  rows.push({ label, rss: rss(), round: result })
  progress(`${label}: ${result.requests} requests, ${fmt(result.perSecond, 1)}/s`)
}
progress(`idle ${idleS} s`)
await sleep(idleS * 1000)
rows.push({ label: `after ${idleS} s idle`, rss: rss() })
clearInterval(timer)
const names = Object.keys(processes)
process.stdout.write(
  `${table(
    ['', 'requests', 'req/s', 'flow p99 ms', ...names.map((n) => `${n} MiB`)],
    [
      ...rows.map((r) => [
        r.label,
        r.round ? String(r.round.requests) : '',
        r.round ? fmt(r.round.perSecond, 1) : '',
        r.round ? fmt(r.round.p99Flow, 0) : '',
        ...names.map((n) => fmt(r.rss[n], 0)),
      ]),
      ['peak (2 s samples)', '', '', '', ...names.map((n) => fmt(peak[n], 0))],
    ],
  )}\n`,
)
await receiver.close()
for (const d of dead) await d.close()
