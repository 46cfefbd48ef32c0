import { sql } from 'drizzle-orm'
import { compileSql } from '../../db/compiled'

const p = sql.placeholder

/**
 * The deliveries an event needs, one per enabled endpoint of its partner that subscribes to its
 * type (placeholders: eventId, type, now). Run in the same batch as the event insert: when the event
 * was not written (a refused transition), the partner lookup finds no event and no delivery is made.
 */
export const insertDeliveries = compileSql(sql`
  INSERT INTO deliveries (id, event_id, endpoint_id, partner_id, status, attempts, next_attempt_at, created_at, updated_at)
  SELECT 'dlv_' || lower(hex(randomblob(13))), ${p('eventId')}, w.id, w.partner_id, 'pending', 0, ${p('now')}, ${p('now')}, ${p('now')}
  FROM webhook_endpoints w
  WHERE w.partner_id = (SELECT partner_id FROM events WHERE id = ${p('eventId')})
    AND w.enabled = 1 AND w.deleted_at IS NULL
    AND (w.event_types IS NULL OR EXISTS (SELECT 1 FROM json_each(w.event_types) WHERE value IN (${p('type')}, '*')))
  RETURNING id`)
