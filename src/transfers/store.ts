import { and, desc, eq, lt, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { transfers, type NewTransfer, type Transfer } from '../../db/schema'
import { newId } from '../lib/ids'
import { eventTypesFor } from './events'
import { PROVIDERS, type ProviderName } from '../providers/provider'
import { PROVIDER_FACTS } from '../providers/facts'
import { insertDeliveries } from '../callbacks/outbox'
import { renderTransfer } from './resource'
import { canTransition, type TransferStatus } from './status'

// Storage for transfers. Every decision that races (idempotent create, attempts, resends, status
// changes) is one conditional statement, and each operation is at most one batch per step.

/** Pending verification and not past its TTL (the cron marks it expired a little later). */
const pendingAt = (now: number) =>
  and(eq(transfers.status, 'pending_verification'), sql`(${transfers.expiresAt} IS NULL OR ${transfers.expiresAt} > ${now})`)

const byPartnerId = (partnerId: string, transferId: string) =>
  and(eq(transfers.partnerId, partnerId), eq(transfers.transferId, transferId))

export const findTransfer = async (db: Db, partnerId: string, transferId: string): Promise<Transfer | undefined> =>
  (await db.select().from(transfers).where(byPartnerId(partnerId, transferId)).limit(1))[0]

export const findTransferByReference = async (db: Db, provider: 'sfox' | 'qi', reference: string) =>
  (
    await db
      .select()
      .from(transfers)
      .where(and(eq(transfers.provider, provider), eq(transfers.providerReference, reference)))
      .limit(1)
  )[0]

/**
 * The QI transfer a webhook names: by ted_key, or (when our create's answer was lost, so no ted_key
 * is recorded yet) by the request_control_key of a transfer still submitting.
 */
export const findQiTransfer = async (db: Db, tedKey: string | undefined, controlKey: string | undefined) => {
  if (tedKey) {
    const byReference = await findTransferByReference(db, 'qi', tedKey)
    if (byReference) return byReference
  }
  if (!controlKey) return undefined
  const [row] = await db
    .select()
    .from(transfers)
    .where(
      and(
        eq(transfers.status, 'submitting'),
        eq(transfers.provider, 'qi'),
        sql`json_extract(${transfers.providerState}, '$.request_control_key') = ${controlKey}`,
      ),
    )
    .limit(1)
  return row
}

export type CreateClaim =
  | { kind: 'created' | 'resumed' | 'replay' | 'in_flight' | 'conflict'; transfer: Transfer }

/**
 * Inserts the transfer unless the partner already has one with that id; in the same round trip
 * takes over a `submitting` one whose earlier attempt ended without an answer (expired lease).
 */
export const claimCreate = async (db: Db, row: NewTransfer & { leaseUntil: number }, now: number): Promise<CreateClaim> => {
  const key = byPartnerId(row.partnerId, row.transferId)
  const [, resumed, found] = await db.batch([
    db.insert(transfers).values(row).onConflictDoNothing({ target: [transfers.partnerId, transfers.transferId] }),
    db
      .update(transfers)
      .set({ leaseUntil: row.leaseUntil, updatedAt: now })
      .where(
        and(
          key,
          eq(transfers.status, 'submitting'),
          eq(transfers.requestHash, row.requestHash),
          sql`(${transfers.leaseUntil} IS NULL OR ${transfers.leaseUntil} < ${now})`,
        ),
      )
      .returning({ id: transfers.id }),
    db.select().from(transfers).where(key),
  ])
  const transfer = found[0]!
  if (transfer.id === row.id) return { kind: 'created', transfer }
  if (transfer.requestHash !== row.requestHash) return { kind: 'conflict', transfer }
  if (resumed.length > 0) return { kind: 'resumed', transfer }
  return { kind: transfer.status === 'submitting' ? 'in_flight' : 'replay', transfer }
}

/** The create's outcome is unknown (provider down or silent): keep the transfer, let a replay resume. */
export const releaseCreate = (db: Db, id: string, now: number) =>
  db.update(transfers).set({ leaseUntil: null, updatedAt: now }).where(eq(transfers.id, id))

/** The provider refused the create: forget it, so the partner can fix the request and reuse the id. */
export const forgetCreate = (db: Db, id: string) =>
  db.delete(transfers).where(and(eq(transfers.id, id), eq(transfers.status, 'submitting')))

export type Transition = { transfer: Transfer; deliveryIds: string[] }

/**
 * Moves a transfer from the status the caller saw to `to` (or only updates fields when `to` is that
 * status) and, in the same batch, writes the events it announces and their deliveries: the
 * transactional outbox. The UPDATE only matches if the status is still the one the caller saw, so of
 * two racing changes one wins; `changes() = 1` keeps the loser's events out. Returns undefined when
 * the transfer had moved meanwhile (the caller re-reads and decides again).
 */
export const transition = async (
  db: Db,
  transfer: Transfer,
  to: TransferStatus,
  set: Partial<NewTransfer>,
  now: number,
): Promise<Transition | undefined> => {
  const from = transfer.status as TransferStatus
  if (from !== to && !canTransition(from, to)) return undefined
  const types = eventTypesFor(from, to)
  const update = db
    .update(transfers)
    .set({ ...set, status: to, updatedAt: now, sequence: sql`${transfers.sequence} + ${types.length}` })
    .where(and(eq(transfers.id, transfer.id), eq(transfers.status, from)))
    .returning()
  if (types.length === 0) {
    const [updated] = await update
    return updated && { transfer: updated, deliveryIds: [] }
  }

  // The events carry the transfer as it is after this change.
  const after = { ...transfer, ...set, status: to, updatedAt: now, sequence: transfer.sequence + types.length } as Transfer
  const object = renderTransfer(after)
  const ids = types.map(() => newId('evt', now))
  // Events first: each insert is guarded by `changes() = 1` of the statement before it (the UPDATE,
  // then the previous event), so deliveries, which insert any number of rows, come after all events.
  const eventInserts = types.map((type, i) => {
    const data = JSON.stringify({ object, previous_status: type === 'transfer.created' ? null : from })
    return db.run(sql`
      INSERT INTO events (id, partner_id, transfer_pk, transfer_id, type, sequence, data, created_at)
      SELECT ${ids[i]}, partner_id, id, transfer_id, ${type}, sequence - ${types.length - 1 - i}, ${data}, ${now}
      FROM transfers WHERE id = ${transfer.id} AND changes() = 1`)
  })
  const deliveryInserts = types.map((type, i) => insertDeliveries(db, ids[i]!, type, now))
  const [updated, ...results] = await db.batch([update, ...eventInserts, ...deliveryInserts])
  if (!updated[0]) return undefined
  const deliveryIds = results.slice(types.length).flatMap((r) => r.rows.map((row) => String(row[0])))
  return { transfer: updated[0], deliveryIds }
}

/** Takes one confirm attempt if the transfer can use one; `current` explains a refusal. */
export const claimConfirmAttempt = async (db: Db, partnerId: string, transferId: string, now: number) => {
  const key = byPartnerId(partnerId, transferId)
  const [claimed, current] = await db.batch([
    db
      .update(transfers)
      .set({ attemptsRemaining: sql`${transfers.attemptsRemaining} - 1`, updatedAt: now })
      .where(and(key, pendingAt(now), sql`${transfers.attemptsRemaining} > 0`))
      .returning(),
    db.select().from(transfers).where(key),
  ])
  return { claimed: claimed[0], current: current[0] }
}

/** Gives back an attempt the provider did not judge (expired code, outage). */
export const refundConfirmAttempt = (db: Db, id: string, now: number) =>
  db
    .update(transfers)
    .set({ attemptsRemaining: sql`${transfers.attemptsRemaining} + 1`, updatedAt: now })
    .where(and(eq(transfers.id, id), eq(transfers.status, 'pending_verification')))

/**
 * Takes one resend if quota, cooldown, attempts and the provider's channels allow, stamping the new
 * code's send time and expiry. `previous` (read in the same transaction, before the UPDATE) explains
 * a refusal and lets a failed send be given back.
 */
export const claimResend = async (db: Db, partnerId: string, transferId: string, now: number, channel?: string) => {
  const key = byPartnerId(partnerId, transferId)
  const perProvider = (value: (name: ProviderName) => SQL) =>
    sql`CASE ${transfers.provider} ${sql.join(
      PROVIDERS.map((name) => sql`WHEN ${name} THEN ${value(name)}`),
      sql` `,
    )} END`
  const expiresAt = perProvider((name) => {
    const ttl = PROVIDER_FACTS[name].codeTtlMs
    return ttl === null ? sql`NULL` : sql`${now + ttl}`
  })
  const channelAllowed = channel
    ? perProvider((name) => sql`${PROVIDER_FACTS[name].channels.includes(channel) ? 1 : 0}`)
    : sql`1`
  const [previous, claimed] = await db.batch([
    db.select().from(transfers).where(key),
    db
      .update(transfers)
      .set({
        resendsUsed: sql`${transfers.resendsUsed} + 1`,
        codeSentAt: now,
        codeExpiresAt: expiresAt,
        ...(channel ? { verificationChannel: channel } : {}),
        updatedAt: now,
      })
      .where(
        and(
          key,
          pendingAt(now),
          sql`${transfers.resendsUsed} < ${transfers.resendLimit}`,
          sql`${transfers.attemptsRemaining} > 0`,
          // "No cooldown" must not refuse a request whose clock read is a hair older than a concurrent send's.
          sql`(${transfers.resendCooldownMs} = 0 OR ${transfers.codeSentAt} IS NULL OR ${transfers.codeSentAt} + ${transfers.resendCooldownMs} <= ${now})`,
          sql`${channelAllowed} = 1`,
        ),
      )
      .returning(),
  ])
  return { previous: previous[0], claimed: claimed[0] }
}

/** A resend the provider refused does not use the partner's quota: undo it if nothing moved since. */
export const refundResend = (db: Db, previous: Transfer, claimedAt: number, now: number) =>
  db.batch([
    db
      .update(transfers)
      .set({ resendsUsed: sql`MAX(${transfers.resendsUsed} - 1, 0)`, updatedAt: now })
      .where(eq(transfers.id, previous.id)),
    db
      .update(transfers)
      .set({
        codeSentAt: previous.codeSentAt,
        codeExpiresAt: previous.codeExpiresAt,
        verificationChannel: previous.verificationChannel,
      })
      .where(and(eq(transfers.id, previous.id), eq(transfers.codeSentAt, claimedAt))),
  ])

export type ListFilter = { status?: string; provider?: 'sfox' | 'qi'; limit: number; startingAfter?: string }

/** Newest first; ids are time-ordered, so the cursor is "ids below the cursor transfer's id". */
export const listTransfers = async (db: Db, partnerId: string, filter: ListFilter) => {
  const conditions = [eq(transfers.partnerId, partnerId)]
  if (filter.status) conditions.push(eq(transfers.status, filter.status))
  if (filter.provider) conditions.push(eq(transfers.provider, filter.provider))
  if (filter.startingAfter) {
    conditions.push(
      lt(
        transfers.id,
        sql`(SELECT id FROM transfers WHERE partner_id = ${partnerId} AND transfer_id = ${filter.startingAfter})`,
      ),
    )
  }
  const rows = await db
    .select()
    .from(transfers)
    .where(and(...conditions))
    .orderBy(desc(transfers.id))
    .limit(filter.limit + 1)
  return { rows: rows.slice(0, filter.limit), hasMore: rows.length > filter.limit }
}
