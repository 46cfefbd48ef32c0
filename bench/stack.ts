import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { migrateDatabase } from '../db/migrate'
import { type LibsqlServer, startLibsqlServer } from '../sandbox/libsql-server/server'
import { generateP521KeyPair, type KeyPairPem } from '../sandbox/qi/keys'
import { type QiSandboxServer, startQiSandbox } from '../sandbox/qi/server'
import { type BuiltWorker, buildWorker } from '../test/helpers/build'
import { type SfoxSandbox, startSfox } from '../test/helpers/sfox'
import { startWorker, type WorkerLog, workerOptionsFromConfig } from '../test/helpers/worker'
import { QI_TOKEN } from './qi-control'
import { type Receiver, startReceiver } from './receiver'

/** Every sandbox email carries this code, so a flow confirms without reading the outbox. */
export const FIXED_OTP = '424242'
export const WRONG_OTP = '000000'
/** Partner requests per rate-limit window the bench's Worker allows (RATE_LIMIT). */
export const BENCH_RATE_LIMIT = 1_000_000

/** The built Worker in workerd: `url` is Miniflare's entry socket (real HTTP), `mf` offers dispatchFetch. */
type StartedWorker = Awaited<ReturnType<typeof startWorker>>

/** What `npm run bench` and `npm run profile` both run: the libSQL server, the sFOX sandbox and the Worker. */
export type LeanStack = {
  libsql: LibsqlServer
  sfox: SfoxSandbox
  /**
   * The Worker in workerd: `dbUrl` its LIBSQL_URL; its compatibility settings, which the I/O probe
   * Worker runs with too; `stop` disposes it before `close` (which then skips it).
   */
  gateway: StartedWorker & {
    adminToken: string
    keyCacheSeconds: number
    dbUrl: string
    compatibilityDate: string
    compatibilityFlags: string[]
    stop: () => Promise<void>
    /** Starts keeping the gateway's log lines; the function it answers stops and answers them. */
    tapLogs: () => () => WorkerLog[]
  }
  /** The bundle workerd runs and what `wrangler deploy --dry-run` printed building it. */
  build: BuiltWorker
  /**
   * Another Worker from `scriptPath` (a patched copy of the bundle), with the gateway's settings and
   * bindings: the same secrets, so API keys issued through one stay valid in the other. `close` stops it.
   */
  startGatewayWorker: (scriptPath: string, inspectorPort?: number) => Promise<StartedWorker>
  /** Registers one more cleanup for `close`; it runs before those of the stack itself (reverse order). */
  onClose: (cleanup: () => Promise<unknown>) => void
  close: () => Promise<void>
}

/** The bench's stack: the lean one plus the QI sandbox and the partner's callback receiver. */
export type Stack = LeanStack & {
  qi: QiSandboxServer
  /** The partner's P-521 key pair for QI: signs the gateway's requests and the bench's direct ones. */
  qiKeys: KeyPairPem
  /** The partner's callback receiver (a fast local HTTP server). */
  receiver: Receiver
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

/** `up(starting, stop)`: registers a server's cleanup as soon as it is up, so a later failure still stops it. */
type StartUp = <T>(starting: Promise<T>, stop: (started: T) => Promise<unknown>) => Promise<T>

/** Waits for every start to settle (so each one that came up has its cleanup registered), then throws the first failure. */
const allStarted = async <T extends readonly unknown[]>(
  starting: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> => {
  const failed = (await Promise.allSettled(starting)).find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  return Promise.all(starting)
}

type StackOptions = {
  /** Names the database, the temporary directory, the admin token and cleanup messages: 'bench' or 'profile'. */
  name: string
  /** Opens workerd's inspector on this port (the gateway Worker only). */
  inspectorPort?: number
  /** Builds the Worker unminified (wrangler.toml minifies): the profiler's A/B patches match source names. */
  unminified?: boolean
}

/**
 * Starts the libSQL server (temporary data directory), the sFOX sandbox, whatever `startMore`
 * starts beside them, and the built Worker (with its queue consumer, as wrangler.toml configures it),
 * all on free ports, and migrates the database. Whatever started is stopped by `close`, also when a
 * later step fails.
 */
const startWith = async <More extends object>(
  root: string,
  options: StackOptions,
  startMore: (up: StartUp) => Promise<More>,
): Promise<LeanStack & More> => {
  const { name } = options
  const cleanups: (() => Promise<unknown>)[] = []
  const close = async () => {
    // Each step runs even if an earlier one failed; a failure to clean up is reported, not thrown,
    // so it never hides the error that stopped the run.
    for (const cleanup of cleanups.reverse()) {
      await Promise.resolve()
        .then(cleanup)
        .catch((error: unknown) =>
          console.error(`${name}: cleanup failed: ${error instanceof Error ? error.message : String(error)}`),
        )
    }
  }
  try {
    const dataDir = await mkdtemp(join(tmpdir(), `tgw-${name}-libsql-`))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const up: StartUp = (starting, stop) =>
      starting.then((started) => {
        cleanups.push(() => stop(started))
        return started
      })
    const [libsql, build, sfox, more] = await allStarted([
      up(startLibsqlServer({ port: 0, dataDir }), (libsql) => libsql.close()),
      up(buildWorker(root, { minify: !options.unminified }), (build) =>
        rm(dirname(build.scriptPath), { recursive: true, force: true }),
      ),
      // The sandbox reproduces sFOX's 250 requests / 10 s per IP: the bench would hit it in seconds.
      up(startSfox({ rate_limit: { enabled: false }, fixed_otp: FIXED_OTP }), (sfox) => sfox.close()),
      startMore(up),
    ] as const)

    const dbUrl = `${libsql.url}/${name}/`
    await migrateDatabase(dbUrl)

    const workerOptions = withoutWranglerChatter(() => workerOptionsFromConfig(root))
    const adminToken = `${name}-admin-${randomBytes(12).toString('hex')}`
    // wrangler.toml's [vars] stay as they are (API_KEY_CACHE_SECONDS=30 included); fresh secrets per
    // run, the same for every Worker of the run.
    const bindings = benchBindings(dbUrl, adminToken)
    // The gateway's own log lines while a tap is open (the CPU judge's replay writes as many).
    let tapped: WorkerLog[] | null = null
    const launch = (scriptPath: string, inspectorPort?: number) =>
      startWorker({
        scriptPath,
        workerOptions,
        bindings,
        // Silent: printing a line per request would cost the harness more than it measures.
        // DEBUG_WORKER_LOGS=1 echoes them to stderr, as in the tests.
        onLog: (log) => {
          if (tapped && scriptPath === build.scriptPath) tapped.push(log)
          if (process.env.DEBUG_WORKER_LOGS) process.stderr.write(`[worker ${log.level}] ${log.message}\n`)
        },
        // Without the static assets (/docs): Cloudflare serves them before the Worker runs, while
        // Miniflare routes every request through an assets router on the Worker's own thread (about
        // 1 ms per request here), which the CPU judge would count as the gateway's work.
        overrides: { assets: undefined, ...(inspectorPort === undefined ? {} : { inspectorPort }) },
      })
    const worker = await launch(build.scriptPath, options.inspectorPort)
    let stopped: Promise<void> | undefined
    const stop = () => (stopped ??= worker.mf.dispose())
    cleanups.push(stop)
    const keyCacheSeconds = Number(workerOptions.bindings?.API_KEY_CACHE_SECONDS ?? 30)
    const gateway = {
      ...worker,
      adminToken,
      keyCacheSeconds,
      dbUrl,
      compatibilityDate: String(workerOptions.compatibilityDate),
      compatibilityFlags: [...(workerOptions.compatibilityFlags ?? [])],
      stop,
      tapLogs: () => {
        const lines: WorkerLog[] = []
        tapped = lines
        return () => {
          if (tapped === lines) tapped = null
          return lines
        }
      },
    }
    const startGatewayWorker = async (scriptPath: string, inspectorPort?: number) => {
      const another = await launch(scriptPath, inspectorPort)
      cleanups.push(() => another.mf.dispose())
      return another
    }
    const onClose = (cleanup: () => Promise<unknown>) => void cleanups.push(cleanup)
    return { ...more, libsql, sfox, gateway, build, startGatewayWorker, onClose, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** `npm run bench`'s stack: the lean one, the QI sandbox and the callback receiver. */
export const startStack = async (root: string): Promise<Stack> => {
  const stack = await startWith(root, { name: 'bench' }, (up) =>
    allStarted([
      // Every 2FA token is QI_TOKEN, so confirms read nothing back; QI's answers stay signed (header).
      up(startQiSandbox({ port: 0, fixed_token: QI_TOKEN }), (qi) => qi.close()),
      up(startReceiver(), (receiver) => receiver.close()),
    ] as const).then(([qi, receiver]) => ({ qi, receiver })),
  )
  return { ...stack, qiKeys: generateP521KeyPair() }
}

/**
 * `npm run profile`'s stack: libSQL, the sFOX sandbox and the Worker only (no QI sandbox, no
 * callback receiver), the Worker's inspector open on `inspectorPort`.
 */
export const startLeanStack = (root: string, options: StackOptions): Promise<LeanStack> =>
  startWith(root, options, async () => ({}))
