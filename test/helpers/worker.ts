import { dirname, join } from 'node:path'
import { Miniflare, type MiniflareOptions } from 'miniflare'
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler'

export type WorkerLog = { level: string; message: string }

/** Miniflare options from wrangler.toml, with only its [vars] (a developer's .dev.vars must not leak in). */
export const workerOptionsFromConfig = (root: string) => {
  const config = unstable_readConfig({ config: join(root, 'wrangler.toml') })
  const { workerOptions } = unstable_getMiniflareWorkerOptions(config)
  workerOptions.bindings = { ...config.vars } as typeof workerOptions.bindings
  return workerOptions as MiniflareOptions & { bindings?: Record<string, unknown> }
}

/** The built Worker in workerd, configured like wrangler.toml plus `bindings`. */
export const startWorker = async (options: {
  scriptPath: string
  workerOptions: MiniflareOptions & { bindings?: Record<string, unknown> }
  bindings: Record<string, unknown>
  onLog?: (log: WorkerLog) => void
  /** Raw Miniflare options on top (e.g. a queue without its consumer). */
  overrides?: Partial<MiniflareOptions>
}) => {
  const mf = new Miniflare({
    ...options.workerOptions,
    modules: true,
    modulesRoot: dirname(options.scriptPath),
    scriptPath: options.scriptPath,
    bindings: { ...options.workerOptions.bindings, ...options.bindings },
    handleStructuredLogs: ({ level, message }: WorkerLog) => options.onLog?.({ level, message }),
    // GET /cdn-cgi/handler/scheduled runs the cron handler, as under `wrangler dev`.
    unsafeTriggerHandlers: true,
    // Subrequests go straight out, as in production: by default Miniflare routes each one through a
    // proxy worker of its own (to strip CF-Connecting-IP) on the same thread, which the bench would
    // count as gateway time.
    stripCfConnectingIp: false,
    ...options.overrides,
  } as MiniflareOptions)
  // Miniflare also serves the Worker on a local port (providers' webhooks need a real URL).
  const url = (await mf.ready).toString().replace(/\/$/, '')
  return { mf, url }
}
