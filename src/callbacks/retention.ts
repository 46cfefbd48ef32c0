import { sql } from 'drizzle-orm'
import type { OperationDeps } from '../transfers/operations'

// Bounded per run, so one cron run never holds the database long.
const BATCH = 500

/**
 * Callback history older than EVENT_RETENTION_DAYS goes: attempts, finished deliveries, then events
 * with no delivery left. Pending deliveries (and so their events) are kept until they finish.
 * Transfers themselves are business records and are not pruned.
 */
export const pruneHistory = async (deps: OperationDeps) => {
  const cutoff = deps.now() - deps.settings.EVENT_RETENTION_DAYS * 86_400_000
  const old = sql`SELECT id FROM events WHERE created_at < ${cutoff} ORDER BY created_at LIMIT ${BATCH}`
  const [attempts, finished, events] = await deps.db.batch([
    deps.db.run(sql`DELETE FROM delivery_attempts WHERE delivery_id IN (
      SELECT id FROM deliveries WHERE status != 'pending' AND event_id IN (${old}))`),
    deps.db.run(sql`DELETE FROM deliveries WHERE status != 'pending' AND event_id IN (${old})`),
    deps.db.run(sql`DELETE FROM events WHERE id IN (${old}) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)`),
  ])
  return { attempts: attempts.rowsAffected, deliveries: finished.rowsAffected, events: events.rowsAffected }
}
