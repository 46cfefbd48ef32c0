import { sql } from 'drizzle-orm'
import { compileSql } from '../../db/compiled'

const p = sql.placeholder

/** What a partner's own `PATCH {enabled: false}` records: the one way of disabling that is a choice. */
export const DISABLED_BY_PARTNER = 'disabled by the partner'

/**
 * The deliveries an event needs, one per endpoint of its partner that subscribes to its type
 * (placeholders: eventId, type, now): pending where the endpoint is enabled; already failed, with the
 * reason, where the gateway disabled it (410, days of failures, its URL or secret unusable), so that
 * once the partner fixes and re-enables it `recover` sends what it missed. An endpoint the partner
 * disabled or deleted gets none. Run in the same batch as the event insert: when the event was not
 * written (a refused transition), the partner lookup finds no event and no delivery is made.
 * A pending one is marked enqueued: it is dispatched right after the commit (the sweeper leaves it be).
 * Returns each delivery's id and status (only pending ones are sent).
 */
export const insertDeliveries = compileSql(sql`
  INSERT INTO deliveries (id, event_id, endpoint_id, partner_id, status, attempts, next_attempt_at, enqueued_at, last_error, created_at, updated_at)
  SELECT 'dlv_' || lower(hex(randomblob(13))), ${p('eventId')}, w.id, w.partner_id,
    CASE WHEN w.enabled = 1 THEN 'pending' ELSE 'failed' END, 0,
    CASE WHEN w.enabled = 1 THEN ${p('now')} ELSE NULL END,
    CASE WHEN w.enabled = 1 THEN ${p('now')} ELSE NULL END,
    CASE WHEN w.enabled = 1 THEN NULL ELSE 'endpoint disabled: ' || coalesce(w.disabled_reason, 'disabled') END,
    ${p('now')}, ${p('now')}
  FROM webhook_endpoints w
  JOIN events e ON e.id = ${p('eventId')}
  WHERE w.partner_id = e.partner_id AND w.mode = e.mode
    AND w.deleted_at IS NULL
    AND (w.enabled = 1 OR coalesce(w.disabled_reason, '') <> ${DISABLED_BY_PARTNER})
    AND (w.event_types IS NULL OR EXISTS (SELECT 1 FROM json_each(w.event_types) WHERE value IN (${p('type')}, '*')))
  RETURNING id, status`)
