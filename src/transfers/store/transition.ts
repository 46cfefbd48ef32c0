import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client'
import { bind, compile, compileSql } from '../../../db/compiled'
import { type NewTransfer, type Transfer, transfers } from '../../../db/schema'
import { insertDeliveries } from '../../callbacks/outbox'
import { newId } from '../../lib/ids'
import { canTransition, eventTypesFor, type TransferStatus } from '../../rules/transfer-states'
import { renderTransfer } from '../../schemas/transfers'
import { p } from './statements'

export type Transition = { transfer: Transfer; deliveryIds: string[] }

// Columns other requests may change meanwhile: they come back from a transition; the rest is known.
const VOLATILE = [
  'sequence',
  'attemptsRemaining',
  'resendsUsed',
  'codeSentAt',
  'codeExpiresAt',
  'verificationChannel',
] as const

// One UPDATE per combination of columns set (a handful exist), built on first use.
const transitionUpdates = new Map<string, ReturnType<typeof compile>>()
const transitionUpdate = (columns: string[], unleased: boolean) => {
  const shape = `${columns.join(',')}${unleased ? ';unleased' : ''}`
  let statement = transitionUpdates.get(shape)
  if (!statement) {
    statement = compile((b) =>
      b
        .update(transfers)
        .set({
          ...(Object.fromEntries(columns.map((c) => [c, p(c)])) as Partial<NewTransfer>),
          status: p('to') as unknown as string,
          updatedAt: p('now') as unknown as number,
          sequence: sql`${transfers.sequence} + ${p('eventCount')}`,
        })
        .where(
          and(
            eq(transfers.id, p('id')),
            eq(transfers.status, p('from')),
            unleased ? sql`(${transfers.leaseUntil} IS NULL OR ${transfers.leaseUntil} < ${p('now')})` : undefined,
          ),
        )
        .returning(
          Object.fromEntries(VOLATILE.map((c) => [c, transfers[c]])) as {
            [K in (typeof VOLATILE)[number]]: (typeof transfers)[K]
          },
        ),
    )
    transitionUpdates.set(shape, statement)
  }
  return statement
}

// Guarded by `changes() = 1` of the statement before it (the UPDATE, then the previous event).
const insertEvent = compileSql(sql`
  INSERT INTO events (id, partner_id, mode, transfer_pk, transfer_id, type, sequence, data, created_at)
  SELECT ${p('eventId')}, partner_id, mode, id, transfer_id, ${p('type')}, sequence - ${p('offset')}, ${p('data')}, ${p('now')}
  FROM transfers WHERE id = ${p('id')} AND changes() = 1`)

/**
 * Moves a transfer from the status the caller saw to `to` (or only updates fields when `to` is that
 * status) and, in the same batch, writes the events it announces and their deliveries: the
 * transactional outbox. The UPDATE only matches if the status is still the one the caller saw, so of
 * two racing changes one wins, and the loser writes no event. Returns undefined when the transfer
 * had moved meanwhile (the caller re-reads and decides again). `unleased`: only if no request holds
 * the transfer's provider call (a gateway-side cancel must not overtake a confirm on its way).
 */
export const transition = async (
  db: Db,
  transfer: Transfer,
  to: TransferStatus,
  set: Partial<NewTransfer>,
  now: number,
  options: { unleased?: boolean } = {},
): Promise<Transition | undefined> => {
  const from = transfer.status as TransferStatus
  if (from !== to && !canTransition(from, to)) return undefined
  const types = eventTypesFor(from, to)
  const columns = Object.keys(set).sort()
  const values: Record<string, unknown> = { id: transfer.id, from, to, now, eventCount: types.length }
  for (const c of columns) values[c] = set[c as keyof NewTransfer] ?? null
  const update = bind(transitionUpdate(columns, options.unleased ?? false), values)
  const after = {
    ...transfer,
    ...set,
    status: to,
    updatedAt: now,
    sequence: transfer.sequence + types.length,
  } as Transfer

  // The events carry the transfer as it is after this change; deliveries come after all events.
  const object = renderTransfer(after)
  const ids = types.map(() => newId('evt', now))
  const eventInserts = types.map((type, i) =>
    bind(insertEvent, {
      eventId: ids[i],
      type,
      offset: types.length - 1 - i,
      data: JSON.stringify({ object, previous_status: type === 'transfer.created' ? null : from }),
      now,
      id: transfer.id,
    }),
  )
  const deliveryInserts = types.map((type, i) => bind(insertDeliveries, { eventId: ids[i], type, now }))
  const [updated, ...results] = await db.pipeline.batch([update, ...eventInserts, ...deliveryInserts])
  const [current] = updated!.rows
  if (!current) return undefined
  const deliveryIds = results
    .slice(types.length)
    .flatMap((r) => r.rows.filter((row) => row.status === 'pending').map((row) => String(row.id)))
  const volatile = Object.fromEntries(VOLATILE.map((c) => [c, current[transfers[c].name] ?? null]))
  return { transfer: { ...after, ...volatile }, deliveryIds }
}
