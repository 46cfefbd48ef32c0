import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrateDatabase } from '../../db/migrate'
import { type LibsqlServer, startLibsqlServer } from '../../sandbox/libsql-server/server'
import { type QiSandboxServer, startQiSandbox } from '../../sandbox/qi/server'
import { type SfoxSandbox, startSfox } from '../../test/helpers/sfox'
import { startWorker, type workerOptionsFromConfig } from '../../test/helpers/worker'
import { readGatewayHeap } from '../isolate-heap'
import { findDescendants, residentKib } from '../memory'
import { benchBindings } from '../stack'
import { startCountingProxy } from './proxy'

/** Every sFOX email carries this code (sandbox setting `fixed_otp`); any other code is wrong. */
export const SOAK_OTP = '424242'

export type SoakSettings = {
  pendingTtlSeconds: number
  providerTimeoutMs: number
  webhookTimeoutMs: number
  resendLimit: number
  confirmAttempts: number
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

/**
 * The whole local stack on loopback for the soak: the libSQL server (stoppable and restartable on the
 * same port and data), the sFOX sandbox behind a counting proxy, the QI sandbox and the built Worker in
 * workerd on a fixed port (restartable: QI's webhooks and the partners keep one address).
 */
export const startSoakStack = async (options: {
  scriptPath: string
  workerOptions: ReturnType<typeof workerOptionsFromConfig>
  settings: SoakSettings
  log?: (line: string) => void
}) => {
  const cleanups: (() => Promise<unknown>)[] = []
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  }
  try {
    const dataDir = await mkdtemp(join(tmpdir(), 'tgw-soak-libsql-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    let libsql: LibsqlServer | null = await startLibsqlServer({ port: 0, dataDir })
    const dbPort = libsql.port
    cleanups.push(async () => libsql?.close())
    const dbUrl = `${libsql.url}/soak/`
    await migrateDatabase(dbUrl)

    const sfox: SfoxSandbox = await startSfox({
      // Rate limits are injected as faults instead: sFOX's real 60 s lock-out would stall the run.
      rate_limit: { enabled: false },
      fixed_otp: SOAK_OTP,
      every_user_known: true,
    })
    cleanups.push(() => sfox.close())
    const proxy = await startCountingProxy(sfox.url)
    cleanups.push(() => proxy.close())
    // A right token leaves the TED "pending" and it settles to "sent" a little later, with webhooks.
    const qi: QiSandboxServer = await startQiSandbox({ port: 0, approval_outcome: 'pending', settle_delay_ms: 300 })
    cleanups.push(() => qi.close())

    const port = await freePort()
    // The inspector, to read the Worker isolate's heap after a forced GC (bench/isolate-heap.ts).
    const inspectorPort = await freePort()
    const adminToken = `soak-admin-${randomBytes(12).toString('hex')}`
    const { settings } = options
    const bindings = {
      ...benchBindings(dbUrl, adminToken),
      RATE_LIMIT: '100000',
      PENDING_TTL_SECONDS: String(settings.pendingTtlSeconds),
      PROVIDER_TIMEOUT_MS: String(settings.providerTimeoutMs),
      WEBHOOK_TIMEOUT_MS: String(settings.webhookTimeoutMs),
      // Short retries, so a receiver that comes back within the run is reached within the run (≈ 40 s in all).
      WEBHOOK_RETRY_SCHEDULE_SECONDS: '1,1,2,2,3,3,5,5,8,10',
      RESEND_LIMIT: String(settings.resendLimit),
      RESEND_COOLDOWN_SECONDS: '1',
      CONFIRM_ATTEMPTS: String(settings.confirmAttempts),
      RECONCILE_QUIET_SECONDS: '1',
      // The Worker restart loses the local queue's messages: the sweeper sends them again within the settle phase.
      SWEEP_REENQUEUE_AFTER_SECONDS: '10',
    }
    // The Worker's own account of a 500 ("unhandled error" with the request id), kept for the report.
    const unhandled: string[] = []
    // Why the scheduled handler failed, the first few times.
    const cronErrors: string[] = []
    const launch = () =>
      startWorker({
        scriptPath: options.scriptPath,
        workerOptions: options.workerOptions,
        bindings,
        onLog: (log) => {
          if (log.message.includes('unhandled error') && unhandled.length < 50) unhandled.push(log.message)
          if (process.env.DEBUG_WORKER_LOGS) process.stderr.write(`[worker ${log.level}] ${log.message}\n`)
        },
        overrides: { port, host: '127.0.0.1', inspectorPort },
      })
    let worker: Awaited<ReturnType<typeof launch>> | null = await launch()
    cleanups.push(async () => worker?.mf.dispose())
    const url = `http://127.0.0.1:${port}`

    // workerd's resident memory, sampled once a second (a restart starts a new process).
    const memory = { samples: [] as { at: number; kib: number; incarnation: number }[], incarnation: 1 }
    let workerdPid: number | null = null
    const sampleMemory = () => {
      if (workerdPid === null || residentKib(workerdPid) === null) {
        const pids = findDescendants('workerd')
        workerdPid = pids.length === 1 ? pids[0]! : null
      }
      const kib = workerdPid === null ? null : residentKib(workerdPid)
      if (kib !== null) memory.samples.push({ at: Date.now(), kib, incarnation: memory.incarnation })
    }
    const sampler = setInterval(sampleMemory, 1_000)
    cleanups.push(async () => clearInterval(sampler))

    return {
      url,
      dbUrl,
      adminToken,
      sfox,
      proxy,
      qi,
      memory,
      sampleMemory,
      /** The gateway isolate's heap after a forced full GC, MiB (the inspector's console buffer dropped). */
      heapAfterGcMib: async () => ((await readGatewayHeap(inspectorPort)).afterGcBytes ?? 0) / 1024 / 1024,
      unhandled,
      cronErrors,
      /** Stops the libSQL server (in-flight statements end, open transactions roll back). */
      stopDb: async () => {
        const running = libsql
        libsql = null
        await running?.close()
      },
      /** Starts it again on the same port and data directory. */
      startDb: async () => {
        libsql ??= await startLibsqlServer({ port: dbPort, dataDir })
      },
      /** Disposes the Worker's workerd process and starts a new one on the same port. */
      restartWorker: async () => {
        const running = worker
        worker = null
        await running?.mf.dispose()
        workerdPid = null
        memory.incarnation++
        worker = await launch()
        sampleMemory()
      },
      /**
       * Runs the cron handler once, as Cloudflare would (and `npm run dev` does); false if it failed or
       * the Worker is down. Through Miniflare's handle on the Worker: with Workers Static Assets the
       * entry socket's /cdn-cgi/handler/scheduled reaches the assets router, which answers 500.
       */
      cron: async () => {
        const running = worker
        if (!running) return false
        try {
          const handle = await running.mf.getWorker()
          const result = await Promise.race([
            handle.scheduled({ cron: '* * * * *' }),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('cron: no answer in 60 s')), 60_000)),
          ])
          if (result.outcome !== 'ok' && cronErrors.length < 5) cronErrors.push(`outcome ${result.outcome}`)
          return result.outcome === 'ok'
        } catch (error) {
          if (cronErrors.length < 5) cronErrors.push(String(error))
          return false
        }
      },
      admin: async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${url}/admin${path}`, {
          method,
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        const text = await res.text()
        if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${text}`)
        return JSON.parse(text) as any
      },
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

export type SoakStack = Awaited<ReturnType<typeof startSoakStack>>
