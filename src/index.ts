import type { DeliveryMessage } from './callbacks/dispatch'
import type { Bindings } from './lib/settings'

export { PartnerRateLimiter } from './durable-objects/rate-limiter'

/**
 * The handlers are loaded by the first request, queue batch or cron run, not at startup: esbuild turns
 * a dynamically imported module into a lazy initialiser, so the bundle's top level only defines
 * functions, and the routes' schemas, the app and everything they import are built on first use.
 */
let loading: Promise<typeof import('./worker')['worker']> | undefined
const handlers = () => (loading ??= import('./worker').then((module) => module.worker))

export default {
  fetch: async (request, env, ctx) => (await handlers()).fetch(request, env, ctx),
  queue: async (batch, env, ctx) => (await handlers()).queue(batch, env, ctx),
  scheduled: async (controller, env, ctx) => (await handlers()).scheduled(controller, env, ctx),
} satisfies ExportedHandler<Bindings, DeliveryMessage>
