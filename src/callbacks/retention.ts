import { sql } from 'drizzle-orm'
import type { Services } from '../services'

// Bounded per run, so one cron run never holds the database long.
const BATCH = 500

/**
 * Callback history goes once an event and everything that happened to it are older than
 * EVENT_RETENTION_DAYS: its attempts, its deliveries, then the event. An event with a delivery still
 * pending, or one finished within the window (a recent redelivery), is kept whole until that too
 * ages out. Transfers themselves are business records and are not pruned.
 */
export const pruneHistory = async (services: Services) => {
  const cutoff = services.now() - services.settings.EVENT_RETENTION_DAYS * 86_400_000
  const old = sql`SELECT e.id FROM events e WHERE e.created_at < ${cutoff} AND NOT EXISTS (
    SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND (d.status = 'pending' OR d.updated_at >= ${cutoff})
  ) ORDER BY e.created_at LIMIT ${BATCH}`
  const [attempts, finished, events] = await services.db.batch([
    services.db.run(
      sql`DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id IN (${old}))`,
    ),
    services.db.run(sql`DELETE FROM deliveries WHERE event_id IN (${old})`),
    services.db.run(sql`DELETE FROM events WHERE id IN (${old})`),
  ])
  return { attempts: attempts.rowsAffected, deliveries: finished.rowsAffected, events: events.rowsAffected }
}
