import { createApp } from './app'
import { pruneAuditLog } from './audit/audit-log'
import { buildServices } from './build-services'
import { attemptDelivery, CONCURRENT_DELIVERIES } from './callbacks/delivery'
import type { DeliveryMessage } from './callbacks/dispatch'
import { pruneHistory } from './callbacks/retention'
import { sweepDueDeliveries } from './callbacks/sweeper'
import { describeError } from './lib/errors'
import { log } from './lib/log'
import { eachLimited } from './lib/pool'
import type { Bindings } from './lib/settings'
import { recordCronRun } from './operations/cron-runs'
import { CRON_JOBS, type CronJob } from './operations/health-report'
import { flushProviderStats, pruneProviderStats } from './operations/provider-stats'
import { expirePending, newPacing, reconcileOpen } from './reconcile/reconcile'

const app = createApp()

export { PartnerRateLimiter } from './durable-objects/rate-limiter'

export default {
  fetch: app.fetch,

  /** Callback deliveries: one attempt per message; the delivery rows, not the messages, are the truth. */
  async queue(batch: MessageBatch<DeliveryMessage>, env: Bindings, ctx: ExecutionContext) {
    const services = buildServices(env, ctx)
    const deliver = async (message: Message<DeliveryMessage>) => {
      try {
        const outcome = await attemptDelivery(services, message.body.delivery_id)
        message.ack()
        if (outcome.kind !== 'skipped')
          log.info('delivery', { delivery_id: message.body.delivery_id, outcome: outcome.kind })
      } catch (error) {
        // Probably the database: the queue retries, and the sweeper would find it anyway.
        log.error('delivery attempt failed', { delivery_id: message.body.delivery_id, error: describeError(error) })
        message.retry({ delaySeconds: 5 })
      }
    }
    await eachLimited(batch.messages, CONCURRENT_DELIVERIES, deliver)
  },

  /**
   * Every minute: send what is due, expire what waited too long, ask providers about the rest, prune old
   * history, audit entries and provider counts; then record how each job ended (GET /admin/health).
   */
  async scheduled(_controller: ScheduledController, env: Bindings, ctx: ExecutionContext) {
    const services = buildServices(env, ctx)
    const pace = newPacing(services.settings)
    const startedAt = services.now()
    const jobs: Record<CronJob, () => Promise<unknown>> = {
      sweep: () => sweepDueDeliveries(services),
      expire: () => expirePending(services, pace),
      reconcile: () => reconcileOpen(services, pace),
      prune_history: () => pruneHistory(services),
      prune_audit: () => pruneAuditLog(services),
      prune_stats: async () => {
        await flushProviderStats(services.db, services.now(), 0)
        return (await pruneProviderStats(services.db, startedAt - 86_400_000)).rowsAffected
      },
    }
    const settled = await Promise.allSettled(CRON_JOBS.map((job) => jobs[job]()))
    const outcomes = CRON_JOBS.map((job, i) => {
      const result = settled[i]!
      return result.status === 'fulfilled'
        ? { job, ok: true, value: result.value }
        : { job, ok: false, error: describeError(result.reason) }
    })
    log.info('cron', Object.fromEntries(outcomes.map((o) => [o.job, o.ok ? o.value : { error: o.error }])))
    await recordCronRun(services.db, startedAt, outcomes).catch((error) =>
      log.error('cron run not recorded', { error: describeError(error) }),
    )
  },
} satisfies ExportedHandler<Bindings, DeliveryMessage>
