import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { ownedBy } from '../../db/owned'
import {
  type Delivery,
  type DeliveryAttempt,
  deliveries,
  deliveryAttempts,
  type Event,
  events,
  webhookEndpoints,
} from '../../db/schema'
import { toPage } from '../lib/page'
import { Problem } from '../lib/problem'
import type { Owner } from '../services'

// Reading a partner's events and what became of their deliveries.

export const listEvents = async (
  db: Db,
  owner: Owner,
  query: { limit: number; startingAfter?: string; type?: string; transferId?: string },
) => {
  const rows = await db
    .select()
    .from(events)
    .where(
      and(
        ownedBy(events, owner),
        query.type ? eq(events.type, query.type) : undefined,
        query.transferId ? eq(events.transferId, query.transferId) : undefined,
        query.startingAfter ? lt(events.id, query.startingAfter) : undefined,
      ),
    )
    .orderBy(desc(events.id))
    .limit(query.limit + 1)
  return toPage(rows, query.limit)
}

export const findEvent = async (db: Db, owner: Owner, id: string): Promise<Event | undefined> =>
  (
    await db
      .select()
      .from(events)
      .where(and(eq(events.id, id), ownedBy(events, owner)))
      .limit(1)
  )[0]

export const eventNotFound = (id: string) => new Problem('event_not_found', { detail: `No event with id "${id}".` })

/** An event with, per delivery, every attempt in order: one batch. */
export const getEventWithDeliveries = async (db: Db, owner: Owner, id: string) => {
  const [[event], rows] = await db.batch([
    db
      .select()
      .from(events)
      .where(and(eq(events.id, id), ownedBy(events, owner)))
      .limit(1),
    db
      .select({ delivery: deliveries, attempt: deliveryAttempts })
      .from(deliveries)
      .leftJoin(deliveryAttempts, eq(deliveryAttempts.deliveryId, deliveries.id))
      .where(and(eq(deliveries.eventId, id), eq(deliveries.partnerId, owner.id)))
      .orderBy(asc(deliveries.createdAt), asc(deliveryAttempts.attempt)),
  ])
  if (!event) throw eventNotFound(id)
  return { event, deliveries: deliveriesOf(rows) }
}

type DeliveryRow = { delivery: Delivery; attempt: DeliveryAttempt | null }

/** Joined delivery/attempt rows (in order) as deliveries, each with its attempts. */
const deliveriesOf = (rows: DeliveryRow[]) => {
  const byDelivery = new Map<string, { delivery: Delivery; attempts: DeliveryAttempt[] }>()
  for (const { delivery, attempt } of rows) {
    const entry = byDelivery.get(delivery.id) ?? { delivery, attempts: [] }
    if (attempt) entry.attempts.push(attempt)
    byDelivery.set(delivery.id, entry)
  }
  return [...byDelivery.values()]
}

/** A transfer's events in sequence order, each with its deliveries and their attempts: one batch. */
export const getTransferTimeline = async (db: Db, owner: Owner, transferId: string) => {
  const [eventRows, rows] = await db.batch([
    db
      .select()
      .from(events)
      .where(and(ownedBy(events, owner), eq(events.transferId, transferId)))
      .orderBy(asc(events.sequence)),
    db
      .select({ delivery: deliveries, attempt: deliveryAttempts })
      .from(deliveries)
      .innerJoin(events, eq(events.id, deliveries.eventId))
      .leftJoin(deliveryAttempts, eq(deliveryAttempts.deliveryId, deliveries.id))
      .where(and(ownedBy(events, owner), eq(events.transferId, transferId)))
      .orderBy(asc(deliveries.createdAt), asc(deliveryAttempts.attempt)),
  ])
  const rowsByEvent = new Map<string, DeliveryRow[]>()
  for (const row of rows) {
    const ofEvent = rowsByEvent.get(row.delivery.eventId) ?? []
    ofEvent.push(row)
    rowsByEvent.set(row.delivery.eventId, ofEvent)
  }
  return eventRows.map((event) => ({ event, deliveries: deliveriesOf(rowsByEvent.get(event.id) ?? []) }))
}

/** Deliveries made since `since` by outcome, and the endpoints whose latest delivery failed (the overview). */
export const deliveryHealth = async (db: Db, owner: Owner, since: number) => {
  const [outcomes, failing] = await db.batch([
    db
      .select({ status: deliveries.status, count: sql<number>`count(*)` })
      .from(deliveries)
      .innerJoin(events, eq(events.id, deliveries.eventId))
      .where(and(ownedBy(events, owner), gte(deliveries.createdAt, since)))
      .groupBy(deliveries.status),
    db
      .select({
        endpointId: deliveries.endpointId,
        failures: sql<number>`count(*)`,
        lastError: sql<string | null>`max(${deliveries.lastError})`,
      })
      .from(deliveries)
      .innerJoin(events, eq(events.id, deliveries.eventId))
      .where(
        and(
          ownedBy(events, owner),
          gte(deliveries.createdAt, since),
          sql`(${deliveries.status} = 'failed' OR (${deliveries.status} = 'pending' AND ${deliveries.attempts} > 0))`,
        ),
      )
      .groupBy(deliveries.endpointId),
  ])
  return { outcomes, failing }
}

/** Per endpoint of the owner, its deliveries made since `since` by outcome (the portal's success rates). */
export const deliveryOutcomesByEndpoint = async (db: Db, owner: Owner, since: number) => {
  const rows = await db
    .select({ endpointId: deliveries.endpointId, status: deliveries.status, count: sql<number>`count(*)` })
    .from(deliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, deliveries.endpointId))
    .where(and(ownedBy(webhookEndpoints, owner), gte(deliveries.createdAt, since)))
    .groupBy(deliveries.endpointId, deliveries.status)
  const byEndpoint = new Map<string, { delivered: number; failed: number; pending: number }>()
  for (const { endpointId, status, count } of rows) {
    const entry = byEndpoint.get(endpointId) ?? { delivered: 0, failed: 0, pending: 0 }
    entry[status] += Number(count)
    byEndpoint.set(endpointId, entry)
  }
  return byEndpoint
}

/** An endpoint's latest deliveries (by last change), each with its event's type and transfer. */
export const recentDeliveriesTo = (db: Db, owner: Owner, endpointId: string, limit: number) =>
  db
    .select({ delivery: deliveries, type: events.type, transferId: events.transferId })
    .from(deliveries)
    .innerJoin(events, eq(events.id, deliveries.eventId))
    .where(and(ownedBy(events, owner), eq(deliveries.endpointId, endpointId)))
    .orderBy(desc(deliveries.updatedAt))
    .limit(limit)
