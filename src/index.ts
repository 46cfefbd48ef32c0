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

  /** Every minute: send what is due, expire what waited too long, ask providers about the rest, prune old history and audit entries. */
  async scheduled(_controller: ScheduledController, env: Bindings, ctx: ExecutionContext) {
    const services = buildServices(env, ctx)
    const pace = newPacing(services.settings)
    const [swept, expired, reconciled, pruned, audit] = await Promise.allSettled([
      sweepDueDeliveries(services),
      expirePending(services, pace),
      reconcileOpen(services, pace),
      pruneHistory(services),
      pruneAuditLog(services),
    ])
    const value = (r: PromiseSettledResult<unknown>) =>
      r.status === 'fulfilled' ? r.value : { error: describeError(r.reason) }
    log.info('cron', {
      swept: value(swept),
      expired: value(expired),
      reconciled: value(reconciled),
      pruned: value(pruned),
      audit_pruned: value(audit),
    })
  },
} satisfies ExportedHandler<Bindings, DeliveryMessage>
