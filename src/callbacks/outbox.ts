import { sql } from 'drizzle-orm'
import type { Db } from '../../db/client'

/**
 * The deliveries an event needs, one per enabled endpoint of its partner that subscribes to its
 * type. Run in the same batch as the event insert: when the event was not written (a refused
 * transition), the partner lookup finds no event and no delivery is made.
 */
export const insertDeliveries = (db: Db, eventId: string, type: string, now: number) =>
  db.run(sql`
    INSERT INTO deliveries (id, event_id, endpoint_id, partner_id, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT 'dlv_' || lower(hex(randomblob(13))), ${eventId}, w.id, w.partner_id, 'pending', 0, ${now}, ${now}, ${now}
    FROM webhook_endpoints w
    WHERE w.partner_id = (SELECT partner_id FROM events WHERE id = ${eventId})
      AND w.enabled = 1 AND w.deleted_at IS NULL
      AND (w.event_types IS NULL OR EXISTS (SELECT 1 FROM json_each(w.event_types) WHERE value IN (${type}, '*')))
    RETURNING id`)
