import { sql } from 'drizzle-orm'
import { bind, compileSql } from '../../db/compiled'
import type { Services } from '../services'

const p = sql.placeholder

/**
 * Marks (and returns) up to `limit` due deliveries that are not in flight and whose last queue
 * message is not recent: `enqueued_at` is set in the same statement, so a delivery is enqueued once
 * per SWEEP_REENQUEUE_AFTER_SECONDS however many sweeps run meanwhile.
 */
const markForEnqueue = compileSql(sql`
  UPDATE deliveries SET enqueued_at = ${p('now')}
  WHERE id IN (
    SELECT id FROM deliveries
    WHERE status = 'pending'
      AND (next_attempt_at IS NULL OR next_attempt_at <= ${p('now')})
      AND (locked_until IS NULL OR locked_until < ${p('now')})
      AND (enqueued_at IS NULL OR enqueued_at <= ${p('enqueuedBefore')})
    ORDER BY next_attempt_at
    LIMIT ${p('limit')})
  RETURNING id`)

/**
 * Nothing depends on a queue message surviving: every minute the deliveries that are due, not in
 * flight and not enqueued within SWEEP_REENQUEUE_AFTER_SECONDS are enqueued again. A lost message, a consumer
 * that died mid-attempt (its claim cleared `enqueued_at`, so it is due as soon as its lease runs out)
 * or a failed enqueue only delays a callback; a duplicate message finds the delivery claimed or done.
 *
 * Why mark, not send: the sweep used to enqueue every due delivery each minute, so while the queue
 * was behind (receivers hanging until the timeout) it added a message per delivery per minute on top
 * of those still waiting: thousands of messages for a handful of attempts. Sending from the cron
 * instead would put a dead receiver's backlog ahead of healthy endpoints in one invocation's few
 * connections (shared with reconcile's provider calls); the mark keeps the queue's parallel consumers
 * doing the sending and bounds the sweeper to one message per delivery per window.
 */
export const sweepDueDeliveries = async (services: Services): Promise<number> => {
  const now = services.now()
  const { rows } = await services.db.pipeline.execute(
    bind(markForEnqueue, {
      now,
      enqueuedBefore: now - services.settings.SWEEP_REENQUEUE_AFTER_SECONDS * 1000,
      limit: services.settings.SWEEP_BATCH_SIZE,
    }),
  )
  services.dispatch(rows.map((row) => String(row.id)))
  return rows.length
}
