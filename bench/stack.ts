import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { migrateDatabase } from '../db/migrate'
import { startLibsqlServer, type LibsqlServer } from '../sandbox/libsql-server/server'
import { buildWorker } from '../test/helpers/build'
import { startSfox, type SfoxSandbox } from '../test/helpers/sfox'
import { startWorker, workerOptionsFromConfig } from '../test/helpers/worker'

/** Every sandbox email carries this code, so a flow confirms without reading the outbox. */
export const FIXED_OTP = '424242'
export const WRONG_OTP = '000000'

export type Stack = {
  libsql: LibsqlServer
  sfox: SfoxSandbox
  /** The Worker in workerd: `url` is Miniflare's entry socket (real HTTP), `mf` offers dispatchFetch. */
  gateway: Awaited<ReturnType<typeof startWorker>> & { adminToken: string; keyCacheSeconds: number }
  close: () => Promise<void>
}

/**
 * wrangler logs "Using secrets defined in .dev.vars" to stdout when a developer has one (the helper
 * ignores its values anyway); keep stdout for the bench's tables.
 */
const withoutWranglerChatter = <T>(fn: () => T): T => {
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
 * Starts the libSQL server (temporary data directory), the sFOX sandbox and the built Worker, all on
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
    const [libsql, scriptPath, sfox] = await Promise.all([
      startLibsqlServer({ port: 0, dataDir }),
      buildWorker(root),
      // The sandbox reproduces sFOX's 250 requests / 10 s per IP: the bench would hit it in seconds.
      startSfox({ rate_limit: { enabled: false }, fixed_otp: FIXED_OTP }),
    ])
    cleanups.push(() => libsql.close())
    cleanups.push(() => rm(dirname(scriptPath), { recursive: true, force: true }))
    cleanups.push(() => sfox.close())

    const dbUrl = `${libsql.url}/bench/`
    await migrateDatabase(dbUrl)

    const workerOptions = withoutWranglerChatter(() => workerOptionsFromConfig(root))
    const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`
    const worker = await startWorker({
      scriptPath,
      workerOptions,
      // wrangler.toml's [vars] stay as they are (API_KEY_CACHE_SECONDS=30 included); fresh secrets per run.
      bindings: {
        ENVIRONMENT: 'test',
        LIBSQL_URL: dbUrl,
        ADMIN_TOKEN: adminToken,
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        API_KEY_SECRET: randomBytes(24).toString('hex'),
      },
      // Silent: printing a line per request would cost the harness more than it measures.
      // DEBUG_WORKER_LOGS=1 echoes them to stderr, as in the tests.
      onLog: (log) => {
        if (process.env.DEBUG_WORKER_LOGS) process.stderr.write(`[worker ${log.level}] ${log.message}\n`)
      },
    })
    cleanups.push(() => worker.mf.dispose())
    const keyCacheSeconds = Number(workerOptions.bindings?.API_KEY_CACHE_SECONDS ?? 30)
    return { libsql, sfox, gateway: { ...worker, adminToken, keyCacheSeconds }, close }
  } catch (error) {
    await close()
    throw error
  }
}
