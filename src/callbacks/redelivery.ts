import { and, eq, gte, inArray, isNull, sql } from 'drizzle-orm'
import { ownedBy } from '../../db/owned'
import { deliveries, webhookEndpoints } from '../../db/schema'
import { isForeignKeyViolation } from '../lib/errors'
import { Problem } from '../lib/problem'
import { TEST_EVENT_TYPE } from '../schemas/callbacks'
import type { Owner, Services } from '../services'
import { getEndpoint } from './endpoints'
import { eventNotFound, findEvent } from './event-history'

/** A delivery's id (the outbox makes the same shape in SQL). */
export const newDeliveryId = () => `dlv_${crypto.randomUUID().replaceAll('-', '').slice(0, 26)}`

// Beyond this many, the sweeper sends the rest on its next run.
const DISPATCH_NOW = 1000
const RECOVER_BATCH = 5000

/**
 * Makes deliveries pending again from scratch (a fresh retry schedule), unless one is in flight; marked
 * enqueued, as they are dispatched right after.
 */
const reset = (now: number) => ({
  status: 'pending' as const,
  attempts: 0,
  nextAttemptAt: now,
  enqueuedAt: now,
  lockedUntil: null,
  deliveredAt: null,
  updatedAt: now,
})

/**
 * Sends an event again to one endpoint or to every enabled endpoint subscribed to its type,
 * including endpoints created after the event (a test event: to the enabled endpoints it was sent
 * to). Returns the deliveries queued.
 */
export const redeliverEvent = async (services: Services, owner: Owner, eventId: string, endpointId?: string) => {
  const { db } = services
  const now = services.now()
  const event = await findEvent(db, owner, eventId)
  if (!event) throw eventNotFound(eventId)
  const targets = endpointId
    ? [await getEndpoint(db, owner, endpointId)]
    : event.type === TEST_EVENT_TYPE
      ? // A test event goes again where it went (never to every endpoint), to those still enabled.
        (
          await db
            .select({ endpoint: webhookEndpoints })
            .from(deliveries)
            .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, deliveries.endpointId))
            .where(
              and(
                eq(deliveries.eventId, eventId),
                ownedBy(webhookEndpoints, owner),
                eq(webhookEndpoints.enabled, true),
                isNull(webhookEndpoints.deletedAt),
              ),
            )
        ).map((r) => r.endpoint)
      : (
          await db
            .select()
            .from(webhookEndpoints)
            .where(
              and(
                ownedBy(webhookEndpoints, owner),
                eq(webhookEndpoints.enabled, true),
                isNull(webhookEndpoints.deletedAt),
              ),
            )
        ).filter((e) => !e.eventTypes || e.eventTypes.includes(event.type) || e.eventTypes.includes('*'))
  const disabled = targets.find((e) => !e.enabled)
  if (disabled) throw endpointDisabled(disabled.id)
  if (targets.length === 0) return []
  const rows = await db
    .insert(deliveries)
    .values(
      targets.map((e) => ({
        id: newDeliveryId(),
        eventId,
        endpointId: e.id,
        partnerId: owner.id,
        ...reset(now),
        createdAt: now,
      })),
    )
    .onConflictDoUpdate({
      target: [deliveries.eventId, deliveries.endpointId],
      set: reset(now),
      // An attempt in flight is left alone; its outcome stands.
      setWhere: sql`${deliveries.lockedUntil} IS NULL OR ${deliveries.lockedUntil} < ${now}`,
    })
    .returning({ id: deliveries.id })
    .catch(async (error: unknown) => {
      // Retention pruned the event between the read above and this write: it is gone, as if it
      // had gone before the request.
      if (isForeignKeyViolation(error) && !(await findEvent(db, owner, eventId))) throw eventNotFound(eventId)
      throw error
    })
  services.dispatch(rows.map((r) => r.id))
  // An endpoint whose attempt was in flight keeps that attempt (it is delivering this very event).
  const queued = new Set(rows.map((r) => r.id))
  const all = await db
    .select({ id: deliveries.id, endpointId: deliveries.endpointId })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.eventId, eventId),
        inArray(
          deliveries.endpointId,
          targets.map((e) => e.id),
        ),
      ),
    )
  return all.map((d) => ({ ...d, state: queued.has(d.id) ? ('queued' as const) : ('in_flight' as const) }))
}

export const endpointDisabled = (id: string) =>
  new Problem('webhook_endpoint_disabled', {
    detail: `Webhook endpoint "${id}" is disabled; enable it first (PATCH {"enabled": true}).`,
  })

/** Every delivery to the endpoint that failed since `since` (however old its event) is sent again. */
export const recoverEndpoint = async (services: Services, owner: Owner, endpointId: string, since: number) => {
  const endpoint = await getEndpoint(services.db, owner, endpointId)
  if (!endpoint.enabled) throw endpointDisabled(endpointId)
  const now = services.now()
  // At most RECOVER_BATCH per call (one bounded statement); `has_more` tells the partner to call again.
  const failedSince = and(
    eq(deliveries.endpointId, endpointId),
    eq(deliveries.status, 'failed'),
    gte(deliveries.updatedAt, since),
  )
  const failedIds = (limit: number) =>
    services.db.select({ id: deliveries.id }).from(deliveries).where(failedSince).limit(limit)
  const [candidates, rows] = await services.db.batch([
    failedIds(RECOVER_BATCH + 1),
    services.db
      .update(deliveries)
      // Not marked enqueued: only the first DISPATCH_NOW are, so the sweeper's next run sends the rest
      // (and may send those again: a duplicate message finds them claimed or done).
      .set({ ...reset(now), enqueuedAt: null })
      .where(inArray(deliveries.id, failedIds(RECOVER_BATCH)))
      .returning({ id: deliveries.id }),
  ])
  services.dispatch(rows.slice(0, DISPATCH_NOW).map((r) => r.id))
  return { requeued: rows.length, hasMore: candidates.length > RECOVER_BATCH }
}
