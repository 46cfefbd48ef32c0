import { randomUUID } from 'node:crypto'
import { inject } from 'vitest'
import { migrateDatabase } from '../../db/migrate'
import { METRICS_RECORDER, startWorker, type WorkerLog } from './worker'

export const TEST_SECRETS = {
  ADMIN_TOKEN: 'test-admin-token-0123456789',
  ENCRYPTION_KEY: Buffer.alloc(32, 42).toString('base64'),
  API_KEY_SECRET: 'test-api-key-secret-0123456789',
}

export type JsonResponse<T = any> = { status: number; headers: Headers; body: T; text: string }

export type Gateway = Awaited<ReturnType<typeof startGateway>>

/**
 * The real Worker bundle in workerd (Miniflare), on its own database of the shared local libSQL
 * server, configured like wrangler.toml plus test settings. Nothing of ours is mocked.
 */
export type GatewayOptions = {
  vars?: Record<string, string>
  database?: string
  migrate?: boolean
  overrides?: Parameters<typeof startWorker>[0]['overrides']
  /** The test-mode simulator behind SIMULATOR, as deployed (default); false leaves the binding out. */
  simulator?: boolean
  /** METRICS bound to a recorder whose points `metricPoints()` reads. */
  metrics?: boolean
}

export const startGateway = async (options: GatewayOptions = {}) => {
  const database = options.database ?? `t_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const dbUrl = `${inject('libsqlUrl')}/${database}/`
  if (options.migrate !== false) await migrateDatabase(dbUrl)
  const logs: WorkerLog[] = []
  const { mf, url } = await startWorker({
    scriptPath: inject('workerScript'),
    workerOptions: JSON.parse(inject('workerOptions')),
    bindings: {
      ENVIRONMENT: 'test',
      LIBSQL_URL: dbUrl,
      // Test receivers listen on 127.0.0.1 over plain http.
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true',
      // Tests make bursts of requests; the rate limit has its own tests with small limits.
      RATE_LIMIT: '100000',
      ...TEST_SECRETS,
      ...options.vars,
    },
    overrides: options.overrides,
    metricsRecorder: options.metrics,
    simulator:
      options.simulator === false
        ? undefined
        : { scriptPath: inject('simulatorScript'), workerOptions: JSON.parse(inject('simulatorOptions')) },
    // The Worker's console output is kept for assertions (no secrets in logs); DEBUG_WORKER_LOGS=1 echoes it.
    onLog: (log) => {
      logs.push(log)
      if (process.env.DEBUG_WORKER_LOGS) console.log(`[worker ${log.level}] ${log.message}`)
    },
  })

  const request = async <T = any>(
    method: string,
    path: string,
    init: { body?: unknown; raw?: string; headers?: Record<string, string>; key?: string } = {},
  ): Promise<JsonResponse<T>> => {
    const headers: Record<string, string> = { ...init.headers }
    if (init.key) headers.authorization = `Bearer ${init.key}`
    let body: string | undefined = init.raw
    if (init.body !== undefined) {
      body = JSON.stringify(init.body)
      headers['content-type'] ??= 'application/json'
    }
    const res = await mf.dispatchFetch(`http://gateway.test${path}`, { method, headers, body })
    const text = await res.text()
    let parsed: unknown = null
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      parsed = text
    }
    return { status: res.status, headers: res.headers as unknown as Headers, body: parsed as T, text }
  }

  const admin = <T = any>(method: string, path: string, body?: unknown) =>
    request<T>(method, `/admin${path}`, { body, key: TEST_SECRETS.ADMIN_TOKEN })

  /**
   * Runs the cron handler once (sweep, expire, reconcile, prune) and waits for it. Called on the Worker
   * itself: with static assets, /cdn-cgi/handler/scheduled on the entry socket reaches the assets router.
   */
  const cron = async () => {
    const result = await (await mf.getWorker()).scheduled({ cron: '* * * * *' })
    if (result.outcome !== 'ok') throw new Error(`scheduled handler: ${result.outcome}`)
  }

  /** Every Analytics Engine data point the Worker wrote (with `metrics: true`). */
  const metricPoints = async (): Promise<{ indexes: string[]; blobs: string[]; doubles: number[] }[]> =>
    (await (await mf.getWorker(METRICS_RECORDER)).fetch('http://recorder/')).json() as any

  return { mf, url, dbUrl, database, request, admin, logs, cron, metricPoints, close: () => mf.dispose() }
}

/** A partner with a test key; optionally its sFOX connection. Returns what tests need. */
export const createPartner = async (
  gateway: Gateway,
  options: { name?: string; limits?: Record<string, number | null>; sfox?: { baseUrl: string; apiKey: string } } = {},
) => {
  const partner = await gateway.admin('POST', '/partners', { name: options.name ?? 'Test partner', ...options.limits })
  if (partner.status !== 201) throw new Error(`partner: ${partner.status} ${partner.text}`)
  const key = await gateway.admin('POST', `/partners/${partner.body.id}/api-keys`, { mode: 'test' })
  if (key.status !== 201) throw new Error(`key: ${key.status} ${key.text}`)
  if (options.sfox) {
    const conn = await gateway.admin('PUT', `/partners/${partner.body.id}/connections/sfox?mode=test`, {
      api_key: options.sfox.apiKey,
      base_url: options.sfox.baseUrl,
    })
    if (conn.status !== 200) throw new Error(`connection: ${conn.status} ${conn.text}`)
  }
  const key_ = key.body.key as string
  return {
    id: partner.body.id as string,
    key: key_,
    keyId: key.body.id as string,
    call: <T = any>(method: string, path: string, body?: unknown) =>
      gateway.request<T>(method, path, { body, key: key_ }),
  }
}

/** A partner connected to its own fresh account at the sFOX sandbox. */
export const createSfoxPartner = async (
  gateway: Gateway,
  sfox: { url: string; newAccount: () => Promise<{ api_key: string; account: string }> },
  limits?: Record<string, number | null>,
) => {
  const account = await sfox.newAccount()
  const partner = await createPartner(gateway, { limits, sfox: { baseUrl: sfox.url, apiKey: account.api_key } })
  return { ...partner, sfoxAccount: account.account, sfoxKey: account.api_key }
}
