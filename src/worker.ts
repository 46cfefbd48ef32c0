import { createApp } from './app'
import { pruneAuditLog } from './audit/audit-log'
import { buildServices } from './build-services'
import { deliverBatch, type Settled } from './callbacks/delivery'
import type { DeliveryMessage } from './callbacks/dispatch'
import { pruneHistory } from './callbacks/retention'
import { sweepDueDeliveries } from './callbacks/sweeper'
import { describeError } from './lib/errors'
import { log } from './lib/log'
import type { Bindings } from './lib/settings'
import { recordCronRun } from './operations/cron-runs'
import { CRON_JOBS, type CronJob } from './operations/health-report'
import { flushProviderStats, pruneProviderStats } from './operations/provider-stats'
import { expirePending, newPacing, reconcileOpen } from './reconcile/reconcile'

const app = createApp()

/** The Worker's handlers; src/index.ts loads this module on first use. */
export const worker = {
  fetch: app.fetch,

  /**
   * Callback deliveries: the batch's deliveries are claimed together, posted CONCURRENT_DELIVERIES at a
   * time and recorded together (src/callbacks/delivery.ts). A message is acked once its delivery's
   * outcome is written; the delivery rows, not the messages, are the truth.
   */
  async queue(batch: MessageBatch<DeliveryMessage>, env: Bindings, ctx: ExecutionContext) {
    const services = buildServices(env, ctx)
    // Two messages may ring for one delivery: both are answered by its one outcome.
    const messagesOf = new Map<string, Message<DeliveryMessage>[]>()
    for (const message of batch.messages)
      messagesOf.set(message.body.delivery_id, [...(messagesOf.get(message.body.delivery_id) ?? []), message])
    const onSettled = (settled: Settled) => {
      for (const message of messagesOf.get(settled.id) ?? []) {
        if ('outcome' in settled) message.ack()
        // Probably the database: the queue retries, and the sweeper would find it anyway.
        else message.retry({ delaySeconds: 5 })
      }
      messagesOf.delete(settled.id)
      if ('error' in settled)
        log.error('delivery attempt failed', { delivery_id: settled.id, error: describeError(settled.error) })
      else if (settled.outcome.kind !== 'skipped') outcomes[settled.outcome.kind].push(settled.id)
    }
    // One line per batch (each line is a Workers Logs event), naming every delivery by its outcome.
    const outcomes = { delivered: [] as string[], retry: [] as string[], failed: [] as string[] }
    try {
      await deliverBatch(services, [...messagesOf.keys()], { retriesQueued: true, onSettled })
      if (outcomes.delivered.length + outcomes.retry.length + outcomes.failed.length > 0)
        log.info('deliveries', { messages: batch.messages.length, ...outcomes })
    } catch (error) {
      // The claim failed: nothing was sent.
      log.error('delivery batch failed', { messages: batch.messages.length, error: describeError(error) })
      for (const message of [...messagesOf.values()].flat()) message.retry({ delaySeconds: 5 })
    }
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
