import { and, asc, eq, isNull, lt, lte, or } from 'drizzle-orm'
import { deliveries } from '../../db/schema'
import type { Services } from '../services'

/**
 * Nothing depends on a queue message surviving: every minute the deliveries that are due and not in
 * flight are enqueued again. A lost message, a consumer that died mid-attempt (its lease runs out)
 * or a failed enqueue only delays a callback; a duplicate message finds the delivery claimed or done.
 */
export const sweepDueDeliveries = async (services: Services): Promise<number> => {
  const now = services.now()
  const due = await services.db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.status, 'pending'),
        or(isNull(deliveries.nextAttemptAt), lte(deliveries.nextAttemptAt, now)),
        or(isNull(deliveries.lockedUntil), lt(deliveries.lockedUntil, now)),
      ),
    )
    .orderBy(asc(deliveries.nextAttemptAt))
    .limit(services.settings.SWEEP_BATCH_SIZE)
  services.dispatch(due.map((d) => d.id))
  return due.length
}
