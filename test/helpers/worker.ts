import { dirname, join } from 'node:path'
import { Miniflare, type MiniflareOptions } from 'miniflare'
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler'

export type WorkerLog = { level: string; message: string }

/** Miniflare options from a wrangler config (wrangler.toml unless named), with only its [vars] (a developer's .dev.vars must not leak in). */
export const workerOptionsFromConfig = (root: string, configPath = 'wrangler.toml') => {
  const config = unstable_readConfig({ config: join(root, configPath) })
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config)
  workerOptions.bindings = { ...config.vars } as typeof workerOptions.bindings
  return workerOptions as MiniflareOptions & {
    bindings?: Record<string, unknown>
    serviceBindings?: Record<string, unknown>
  }
}

type WorkerOptions = ReturnType<typeof workerOptionsFromConfig>

export const METRICS_RECORDER = 'metrics-recorder'

/**
 * A stand-in for the Analytics Engine dataset, bound as METRICS: it keeps every data point written
 * (writeDataPoint over RPC) and answers them all to GET (mf.getWorker(METRICS_RECORDER)).
 */
const metricsRecorder = (compatibilityDate: string | undefined) => ({
  name: METRICS_RECORDER,
  modules: [
    {
      type: 'ESModule',
      path: 'recorder.mjs',
      contents: `import { WorkerEntrypoint } from 'cloudflare:workers'
const points = []
export default class extends WorkerEntrypoint {
  writeDataPoint(point) { points.push(point) }
  fetch() { return Response.json(points) }
}`,
    },
  ],
  compatibilityDate,
})

/** The test-mode simulator beside the gateway (its SIMULATOR binding), on the same database. */
export type SimulatorWorker = { scriptPath: string; workerOptions: WorkerOptions }

/**
 * The built Worker in workerd, configured like wrangler.toml plus `bindings`. With `simulator`, the
 * simulator Worker runs beside it behind the SIMULATOR binding, as deployed; without, the binding is
 * left out (test keys with no connection then get provider_not_configured).
 */
export const startWorker = async (options: {
  scriptPath: string
  workerOptions: WorkerOptions
  bindings: Record<string, unknown>
  onLog?: (log: WorkerLog) => void
  /** Raw Miniflare options on top (e.g. a queue without its consumer). */
  overrides?: Partial<MiniflareOptions>
  simulator?: SimulatorWorker
  /** Binds METRICS to a recorder (Miniflare's own Analytics Engine binding drops every point). */
  metricsRecorder?: boolean
}) => {
  const { SIMULATOR, ...otherServices } = options.workerOptions.serviceBindings ?? {}
  const gateway = {
    ...options.workerOptions,
    modules: true,
    modulesRoot: dirname(options.scriptPath),
    scriptPath: options.scriptPath,
    bindings: { ...options.workerOptions.bindings, ...options.bindings },
    serviceBindings: {
      ...(options.simulator ? { ...otherServices, SIMULATOR } : otherServices),
      ...(options.metricsRecorder ? { METRICS: METRICS_RECORDER } : {}),
    },
    analyticsEngineDatasets: options.metricsRecorder ? undefined : options.workerOptions.analyticsEngineDatasets,
  }
  const shared = {
    handleStructuredLogs: ({ level, message }: WorkerLog) => options.onLog?.({ level, message }),
    // GET /cdn-cgi/handler/scheduled runs the cron handler (without static assets; see gateway.ts cron()).
    unsafeTriggerHandlers: true,
    // Subrequests go straight out, as in production: by default Miniflare routes each one through a
    // proxy worker of its own (to strip CF-Connecting-IP) on the same thread, which the bench would
    // count as gateway time.
    stripCfConnectingIp: false,
  }
  const simulator = options.simulator && {
    ...options.simulator.workerOptions,
    modules: true,
    modulesRoot: dirname(options.simulator.scriptPath),
    scriptPath: options.simulator.scriptPath,
    bindings: {
      ...options.simulator.workerOptions.bindings,
      LIBSQL_URL: options.bindings.LIBSQL_URL,
      LIBSQL_AUTH_TOKEN: options.bindings.LIBSQL_AUTH_TOKEN ?? '',
    },
  }
  const others = [simulator, options.metricsRecorder && metricsRecorder(gateway.compatibilityDate)].filter(Boolean)
  const mf = new Miniflare(
    (others.length
      ? { ...shared, workers: [{ ...gateway, ...options.overrides }, ...others] }
      : { ...gateway, ...shared, ...options.overrides }) as MiniflareOptions,
  )
  // Miniflare also serves the Worker on a local port (providers' webhooks need a real URL).
  const url = (await mf.ready).toString().replace(/\/$/, '')
  return { mf, url }
}
