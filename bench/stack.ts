import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { migrateDatabase } from '../db/migrate'
import { startLibsqlServer, type LibsqlServer } from '../sandbox/libsql-server/server'
import { generateP521KeyPair, type KeyPairPem } from '../sandbox/qi/keys'
import { startQiSandbox, type QiSandboxServer } from '../sandbox/qi/server'
import { startSfox, type SfoxSandbox } from '../test/helpers/sfox'
import { startWorker, workerOptionsFromConfig } from '../test/helpers/worker'
import { buildWorker, type BuiltWorker } from '../test/helpers/build'
import { QI_TOKEN } from './qi-control'
import { startReceiver, type Receiver } from './receiver'

/** Every sandbox email carries this code, so a flow confirms without reading the outbox. */
export const FIXED_OTP = '424242'
export const WRONG_OTP = '000000'
/** Partner requests per rate-limit window the bench's Worker allows (RATE_LIMIT). */
export const BENCH_RATE_LIMIT = 1_000_000

export type Stack = {
  libsql: LibsqlServer
  sfox: SfoxSandbox
  qi: QiSandboxServer
  /** The partner's P-521 key pair for QI: signs the gateway's requests and the bench's direct ones. */
  qiKeys: KeyPairPem
  /** The partner's callback receiver (a fast local HTTP server). */
  receiver: Receiver
  /**
   * The Worker in workerd: `url` is Miniflare's entry socket (real HTTP), `mf` offers dispatchFetch;
   * `dbUrl` its LIBSQL_URL; its compatibility settings, which the I/O probe Worker runs with too.
   */
  gateway: Awaited<ReturnType<typeof startWorker>> & {
    adminToken: string
    keyCacheSeconds: number
    dbUrl: string
    compatibilityDate: string
    compatibilityFlags: string[]
  }
  /** The bundle workerd runs and what `wrangler deploy --dry-run` printed building it. */
  build: BuiltWorker
  /** Registers one more cleanup for `close`; it runs before those of the stack itself (reverse order). */
  onClose: (cleanup: () => Promise<unknown>) => void
  close: () => Promise<void>
}

/**
 * The Worker's bindings for a bench run (the bench and `npm run profile`): wrangler.toml's [vars]
 * stay as they are, secrets are fresh per run.
 */
export const benchBindings = (dbUrl: string, adminToken: string) => ({
  ENVIRONMENT: 'test',
  LIBSQL_URL: dbUrl,
  ADMIN_TOKEN: adminToken,
  ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  API_KEY_SECRET: randomBytes(24).toString('hex'),
  // The receiver listens on 127.0.0.1 over plain http.
  WEBHOOK_ALLOW_HTTP: 'true',
  WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true',
  // The per-partner request limit (100 per 10 s by default) would stop the bench in its first
  // second; raised out of reach, like the sFOX sandbox's. Its counter is still asked per request.
  RATE_LIMIT: String(BENCH_RATE_LIMIT),
})

/**
 * wrangler logs "Using secrets defined in .dev.vars" to stdout when a developer has one (the helper
 * ignores its values anyway); keep stdout for the bench's tables.
 */
export const withoutWranglerChatter = <T>(fn: () => T): T => {
  const previous = process.env.WRANGLER_LOG
  process.env.WRANGLER_LOG = 'warn'
  try {
    return fn()
  } finally {
    if (previous === undefined) delete process.env.WRANGLER_LOG
    else process.env.WRANGLER_LOG = previous
  }
}

/**
 * Starts the libSQL server (temporary data directory), the sFOX and QI sandboxes, the callback
 * receiver and the built Worker (with its queue consumer, as wrangler.toml configures it), all on
 * free ports, and migrates the bench database. Whatever started is stopped by `close`, also when a
 * later step fails.
 */
export const startStack = async (root: string): Promise<Stack> => {
  const cleanups: (() => Promise<unknown>)[] = []
  const close = async () => {
    // Each step runs even if an earlier one failed; a failure to clean up is reported, not thrown,
    // so it never hides the error that stopped the bench.
    for (const cleanup of cleanups.reverse()) {
      await Promise.resolve()
        .then(cleanup)
        .catch((error: unknown) => console.error(`bench: cleanup failed: ${error instanceof Error ? error.message : String(error)}`))
    }
  }
  try {
    const dataDir = await mkdtemp(join(tmpdir(), 'tgw-bench-libsql-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    // Each one's cleanup is registered as soon as it is up, so a failed build still stops the servers.
    const up = <T>(starting: Promise<T>, stop: (started: T) => Promise<unknown>) =>
      starting.then((started) => {
        cleanups.push(() => stop(started))
        return started
      })
    const starting = [
      up(startLibsqlServer({ port: 0, dataDir }), (libsql) => libsql.close()),
      up(buildWorker(root), (build) => rm(dirname(build.scriptPath), { recursive: true, force: true })),
      // The sandbox reproduces sFOX's 250 requests / 10 s per IP: the bench would hit it in seconds.
      up(startSfox({ rate_limit: { enabled: false }, fixed_otp: FIXED_OTP }), (sfox) => sfox.close()),
      // Every 2FA token is QI_TOKEN, so confirms read nothing back; QI's answers stay signed (header).
      up(startQiSandbox({ port: 0, fixed_token: QI_TOKEN }), (qi) => qi.close()),
      up(startReceiver(), (receiver) => receiver.close()),
    ] as const
    const failed = (await Promise.allSettled(starting)).find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
    const [libsql, build, sfox, qi, receiver] = await Promise.all(starting)

    const dbUrl = `${libsql.url}/bench/`
    await migrateDatabase(dbUrl)

    const workerOptions = withoutWranglerChatter(() => workerOptionsFromConfig(root))
    const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`
    const worker = await startWorker({
      scriptPath: build.scriptPath,
      workerOptions,
      // wrangler.toml's [vars] stay as they are (API_KEY_CACHE_SECONDS=30 included); fresh secrets per run.
      bindings: benchBindings(dbUrl, adminToken),
      // Silent: printing a line per request would cost the harness more than it measures.
      // DEBUG_WORKER_LOGS=1 echoes them to stderr, as in the tests.
      onLog: (log) => {
        if (process.env.DEBUG_WORKER_LOGS) process.stderr.write(`[worker ${log.level}] ${log.message}\n`)
      },
    })
    cleanups.push(() => worker.mf.dispose())
    const keyCacheSeconds = Number(workerOptions.bindings?.API_KEY_CACHE_SECONDS ?? 30)
    const gateway = {
      ...worker,
      adminToken,
      keyCacheSeconds,
      dbUrl,
      compatibilityDate: String(workerOptions.compatibilityDate),
      compatibilityFlags: [...(workerOptions.compatibilityFlags ?? [])],
    }
    const onClose = (cleanup: () => Promise<unknown>) => void cleanups.push(cleanup)
    return { libsql, sfox, qi, qiKeys: generateP521KeyPair(), receiver, gateway, build, onClose, close }
  } catch (error) {
    await close()
    throw error
  }
}
