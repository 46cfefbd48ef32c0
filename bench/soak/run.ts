import { rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildWorker } from '../../test/helpers/build'
import { workerOptionsFromConfig } from '../../test/helpers/worker'
import { withoutWranglerChatter } from '../stack'
import { formatReport } from './invariants'
import { runSoak } from './soak'

/**
 * `npm run soak`: the long soak (a few minutes). Every flag has an environment variable; a flag wins.
 * Exits 1 when an invariant fails.
 */
const FLAGS = {
  duration: ['SOAK_DURATION_S', 180, 'load phase, seconds (the fault schedule is laid out over it)'],
  partners: ['SOAK_PARTNERS', 3, 'simulated partners (at least 3: each of the first three has its own receivers)'],
  concurrency: ['SOAK_CONCURRENCY', 3, 'flows in flight per partner'],
  'max-flows': ['SOAK_MAX_FLOWS', 100_000, 'at most this many flows per partner'],
  'db-down': ['SOAK_DB_DOWN_MS', 6_000, 'how long the libSQL server stays stopped, ms'],
  ttl: ['SOAK_PENDING_TTL_S', 30, 'PENDING_TTL_SECONDS: transfers nobody verifies expire after this'],
  seed: ['SOAK_SEED', 1, 'the random choices (flows, faults) replay with the same seed'],
} as const

const parse = (argv: string[]) => {
  if (argv.includes('--help')) {
    for (const [flag, [env, fallback, what]] of Object.entries(FLAGS))
      console.log(`--${flag.padEnd(12)} ${env.padEnd(20)} ${String(fallback).padStart(7)}  ${what}`)
    process.exit(0)
  }
  const value = (flag: keyof typeof FLAGS) => {
    const at = argv.indexOf(`--${flag}`)
    const raw = at >= 0 ? argv[at + 1] : process.env[FLAGS[flag][0]]
    const n = raw === undefined ? FLAGS[flag][1] : Number(raw)
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag} must be a number, got ${raw}`)
    return n
  }
  const partners = value('partners')
  if (partners < 3) throw new Error('--partners must be at least 3')
  return {
    durationMs: value('duration') * 1000,
    partners,
    concurrency: Math.max(1, value('concurrency')),
    maxFlowsPerPartner: value('max-flows'),
    dbDownMs: value('db-down'),
    ttl: value('ttl'),
    seed: value('seed'),
  }
}

const main = async () => {
  const options = parse(process.argv.slice(2))
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
  const log = (line: string) => process.stderr.write(`${line}\n`)
  log('soak: building the Worker (wrangler deploy --dry-run)')
  const build = await buildWorker(root)
  try {
    const workerOptions = withoutWranglerChatter(() => workerOptionsFromConfig(root))
    const report = await runSoak({
      ...options,
      settleMs: 120_000,
      settings: {
        pendingTtlSeconds: options.ttl,
        providerTimeoutMs: 1_500,
        webhookTimeoutMs: 1_000,
        resendLimit: 3,
        confirmAttempts: 5,
      },
      scriptPath: build.scriptPath,
      workerOptions,
      log,
    })
    console.log(formatReport(report))
    process.exitCode = report.ok ? 0 : 1
  } finally {
    await rm(dirname(build.scriptPath), { recursive: true, force: true })
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
