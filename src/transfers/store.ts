import { and, desc, eq, lt, ne, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { bind, compile, compileSql, rowMapper } from '../../db/compiled'
import { transfers, type NewTransfer, type Transfer } from '../../db/schema'
import { newId } from '../lib/ids'
import { PROVIDERS, type ProviderName } from '../providers/provider'
import { PROVIDER_FACTS } from '../providers/facts'
import { insertDeliveries } from '../callbacks/outbox'
import { renderTransfer } from '../schemas/transfers'
import { canTransition, eventTypesFor, type TransferStatus } from '../rules/transfer-states'
import { toPage } from '../lib/page'

// Storage for transfers. Every decision that races (idempotent create, attempts, resends, status
// changes) is one conditional statement, and each operation is at most one batch per step.

// Hot-path statements, built once per isolate (see db/compiled.ts).
const toTransfer = rowMapper(transfers)
const p = sql.placeholder
const keyOf = () => and(eq(transfers.partnerId, p('partnerId')), eq(transfers.transferId, p('transferId')))
// Pending verification and not past its TTL (the cron marks it expired a little later).
const pendingNow = () =>
  and(eq(transfers.status, 'pending_verification'), sql`(${transfers.expiresAt} IS NULL OR ${transfers.expiresAt} > ${p('now')})`)

// One SQL value per provider, chosen by the row's provider column.
const perProvider = (value: (name: ProviderName) => SQL) =>
  sql`CASE ${transfers.provider} ${sql.join(
    PROVIDERS.map((name) => sql`WHEN ${name} THEN ${value(name)}`),
    sql` `,
  )} END`

const selectByPartnerId = compile((b) => b.select().from(transfers).where(keyOf()).limit(1))

export const findTransfer = async (db: Db, partnerId: string, transferId: string): Promise<Transfer | undefined> => {
  const { rows } = await db.pipeline.execute(bind(selectByPartnerId, { partnerId, transferId }))
  return rows[0] ? toTransfer(rows[0]) : undefined
}

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

/** Notes that the transfer is being re-fetched now, unless it was within `gapMs`: true if this caller may ask. */
export const claimRefetch = async (db: Db, id: string, now: number, gapMs: number) =>
  (
    await db
      .update(transfers)
      .set({ reconciledAt: now })
      .where(and(eq(transfers.id, id), sql`(${transfers.reconciledAt} IS NULL OR ${transfers.reconciledAt} < ${now - gapMs})`))
      .returning({ id: transfers.id })
  ).length === 1

export type CreateClaim =
  | { kind: 'created' | 'resumed' | 'replay' | 'in_flight' | 'conflict'; transfer: Transfer }

/**
 * Inserts the transfer unless the partner already has one with that id; in the same round trip
 * takes over a `submitting` one whose earlier attempt ended without an answer (expired lease).
 */
// The columns a create writes (each encoded by its column, JSON ones included).
const INSERTED = ['id', 'partnerId', 'transferId', 'provider', 'status', 'requestHash', 'details', 'metadata', 'providerReference', 'providerState', 'leaseUntil', 'resendLimit', 'resendCooldownMs', 'confirmLimit', 'createdAt', 'updatedAt'] as const
const insertTransfer = compile((b) =>
  b
    .insert(transfers)
    .values(Object.fromEntries(INSERTED.map((c) => [c, p(c)])) as unknown as NewTransfer)
    .onConflictDoNothing({ target: [transfers.partnerId, transfers.transferId] }),
)
const resumeCreate = compile((b) =>
  b
    .update(transfers)
    .set({ leaseUntil: p('leaseUntil') as unknown as number, updatedAt: p('now') as unknown as number })
    .where(
      and(
        keyOf(),
        eq(transfers.status, 'submitting'),
        eq(transfers.requestHash, p('requestHash')),
        sql`(${transfers.leaseUntil} IS NULL OR ${transfers.leaseUntil} < ${p('now')})`,
      ),
    )
    .returning(),
)
const selectOthers = compile((b) => b.select().from(transfers).where(and(keyOf(), ne(transfers.id, p('id')))))

export const claimCreate = async (db: Db, row: NewTransfer & { leaseUntil: number }, now: number): Promise<CreateClaim> => {
  const values = { ...Object.fromEntries(INSERTED.map((c) => [c, row[c] ?? null])), now }
  // On the common path (a new transfer) no statement returns a row: the new one is known already.
  const [, resumed, existing] = await db.pipeline.batch([bind(insertTransfer, values), bind(resumeCreate, values), bind(selectOthers, values)])
  const [found] = existing!.rows.map(toTransfer)
  if (!found) return { kind: 'created', transfer: asStored(row) }
  if (found.requestHash !== row.requestHash) return { kind: 'conflict', transfer: found }
  const [resumedRow] = resumed!.rows.map(toTransfer)
  if (resumedRow) return { kind: 'resumed', transfer: resumedRow }
  return { kind: found.status === 'submitting' ? 'in_flight' : 'replay', transfer: found }
}

/** A freshly inserted row as the database holds it (column defaults filled in). */
const asStored = (row: NewTransfer): Transfer => ({
  providerStatus: null,
  providerReference: null,
  metadata: null,
  providerState: null,
  leaseUntil: null,
  verificationChannel: null,
  codeSentAt: null,
  codeExpiresAt: null,
  resendsUsed: 0,
  attemptsRemaining: null,
  confirmLimit: null,
  failureCode: null,
  failureMessage: null,
  sequence: 0,
  expiresAt: null,
  reconciledAt: null,
  ...row,
})

/**
 * The create's outcome is unknown (provider down or silent): keep the transfer, let a replay resume.
 * Only while this request still holds the create's lease (`heldLease`, the value its claim wrote).
 */
export const releaseCreate = (db: Db, id: string, now: number, heldLease: number) =>
  db
    .update(transfers)
    .set({ leaseUntil: null, updatedAt: now })
    .where(and(eq(transfers.id, id), eq(transfers.status, 'submitting'), eq(transfers.leaseUntil, heldLease)))

/** The provider refused the create: forget it, so the partner can fix the request and reuse the id. */
export const forgetCreate = (db: Db, id: string, heldLease: number) =>
  db.delete(transfers).where(and(eq(transfers.id, id), eq(transfers.status, 'submitting'), eq(transfers.leaseUntil, heldLease)))

export type Transition = { transfer: Transfer; deliveryIds: string[] }

// Columns other requests may change meanwhile: they come back from a transition; the rest is known.
const VOLATILE = ['sequence', 'attemptsRemaining', 'resendsUsed', 'codeSentAt', 'codeExpiresAt', 'verificationChannel'] as const

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
        .returning(Object.fromEntries(VOLATILE.map((c) => [c, transfers[c]])) as { [K in (typeof VOLATILE)[number]]: (typeof transfers)[K] }),
    )
    transitionUpdates.set(shape, statement)
  }
  return statement
}

// Guarded by `changes() = 1` of the statement before it (the UPDATE, then the previous event).
const insertEvent = compileSql(sql`
  INSERT INTO events (id, partner_id, transfer_pk, transfer_id, type, sequence, data, created_at)
  SELECT ${p('eventId')}, partner_id, id, transfer_id, ${p('type')}, sequence - ${p('offset')}, ${p('data')}, ${p('now')}
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
  const after = { ...transfer, ...set, status: to, updatedAt: now, sequence: transfer.sequence + types.length } as Transfer

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
  const deliveryIds = results.slice(types.length).flatMap((r) => r.rows.filter((row) => row.status === 'pending').map((row) => String(row.id)))
  const volatile = Object.fromEntries(VOLATILE.map((c) => [c, current[transfers[c].name] ?? null]))
  return { transfer: { ...after, ...volatile }, deliveryIds }
}

// Where the gateway cancels on its own side, the confirm also takes the lease (see transition), and
// only one confirm may hold it: a second one at the provider at the same time could outlive the
// first one's release and let a cancel slip in while it is still being judged.
const takeAttempt = compile((b) =>
  b
    .update(transfers)
    .set({
      attemptsRemaining: sql`${transfers.attemptsRemaining} - 1`,
      leaseUntil: perProvider((name) => (PROVIDER_FACTS[name].gatewaySideCancel ? sql`${p('leaseUntil')}` : sql`${transfers.leaseUntil}`)),
      updatedAt: p('now') as unknown as number,
    })
    .where(
      and(
        keyOf(),
        pendingNow(),
        sql`${transfers.attemptsRemaining} > 0`,
        sql`${perProvider((name) =>
          PROVIDER_FACTS[name].gatewaySideCancel ? sql`(${transfers.leaseUntil} IS NULL OR ${transfers.leaseUntil} < ${p('now')})` : sql`1`,
        )} = 1`,
      ),
    )
    .returning(),
)
// Only read when the UPDATE took nothing: then it explains why.
const explainRefusal = compileSql(sql`SELECT * FROM transfers WHERE partner_id = ${p('partnerId')} AND transfer_id = ${p('transferId')} AND changes() = 0`)

/** Takes one confirm attempt if the transfer can use one; `current` explains a refusal. */
export const claimConfirmAttempt = async (db: Db, partnerId: string, transferId: string, now: number, leaseUntil: number) => {
  const values = { partnerId, transferId, now, leaseUntil }
  const [claimed, current] = await db.pipeline.batch([bind(takeAttempt, values), bind(explainRefusal, values)])
  const row = claimed!.rows.map(toTransfer)[0]
  return { claimed: row, current: row ?? current!.rows.map(toTransfer)[0] }
}

/** This confirm's lease only: `heldLease` is the value its claim wrote. */
const ownLeaseReleased = (heldLease: number) => sql`CASE WHEN ${transfers.leaseUntil} = ${heldLease} THEN NULL ELSE ${transfers.leaseUntil} END`

/**
 * Gives back an attempt the provider did not judge (expired code, outage). The confirm's lease is
 * released, unless `keepLease`: when the outcome is unknown (a timeout, an answer lost or not
 * authentic) the provider may still be approving, so the lease runs out on its own.
 */
export const refundConfirmAttempt = (db: Db, id: string, now: number, heldLease: number, keepLease = false) =>
  db
    .update(transfers)
    .set({
      attemptsRemaining: sql`${transfers.attemptsRemaining} + 1`,
      ...(keepLease ? {} : { leaseUntil: ownLeaseReleased(heldLease) }),
      updatedAt: now,
    })
    .where(and(eq(transfers.id, id), eq(transfers.status, 'pending_verification')))

/** The confirm is over (a wrong code changes nothing else): its own lease is given back. */
export const releaseLease = (db: Db, id: string, heldLease: number) =>
  db.update(transfers).set({ leaseUntil: null }).where(and(eq(transfers.id, id), eq(transfers.leaseUntil, heldLease)))

// What a refused resend is explained with, and what a failed send gives back.
const resendBefore = compile((b) =>
  b
    .select({
      id: transfers.id,
      provider: transfers.provider,
      status: transfers.status,
      resendsUsed: transfers.resendsUsed,
      resendLimit: transfers.resendLimit,
      resendCooldownMs: transfers.resendCooldownMs,
      attemptsRemaining: transfers.attemptsRemaining,
      expiresAt: transfers.expiresAt,
      codeSentAt: transfers.codeSentAt,
      codeExpiresAt: transfers.codeExpiresAt,
      verificationChannel: transfers.verificationChannel,
    })
    .from(transfers)
    .where(keyOf()),
)
export type ResendPrevious = Pick<
  Transfer,
  'id' | 'provider' | 'status' | 'resendsUsed' | 'resendLimit' | 'resendCooldownMs' | 'attemptsRemaining' | 'expiresAt' | 'codeSentAt' | 'codeExpiresAt' | 'verificationChannel'
>

const takeResend = (withChannel: boolean) =>
  compile((b) =>
    b
      .update(transfers)
      .set({
        resendsUsed: sql`${transfers.resendsUsed} + 1`,
        codeSentAt: p('now') as unknown as number,
        codeExpiresAt: perProvider((name) => {
          const ttl = PROVIDER_FACTS[name].codeTtlMs
          return ttl === null ? sql`NULL` : sql`${p('now')} + ${ttl}`
        }),
        ...(withChannel ? { verificationChannel: p('channel') as unknown as string } : {}),
        updatedAt: p('now') as unknown as number,
      })
      .where(
        and(
          keyOf(),
          pendingNow(),
          sql`${transfers.resendsUsed} < ${transfers.resendLimit}`,
          sql`${transfers.attemptsRemaining} > 0`,
          // "No cooldown" must not refuse a request whose clock read is a hair older than a concurrent send's.
          sql`(${transfers.resendCooldownMs} = 0 OR ${transfers.codeSentAt} IS NULL OR ${transfers.codeSentAt} + ${transfers.resendCooldownMs} <= ${p('now')})`,
          withChannel
            ? sql`${perProvider((name) => sql`${p('channel')} IN (${sql.join(PROVIDER_FACTS[name].channels.map((c) => sql`${c}`), sql`, `)})`)} = 1`
            : undefined,
        ),
      )
      .returning(),
  )
const takeResendKeepingChannel = takeResend(false)
const takeResendOnChannel = takeResend(true)

/**
 * Takes one resend if quota, cooldown, attempts and the provider's channels allow, stamping the new
 * code's send time and expiry. `previous` (read in the same transaction, before the UPDATE) explains
 * a refusal and lets a failed send be given back.
 */
export const claimResend = async (db: Db, partnerId: string, transferId: string, now: number, channel?: string) => {
  const values = { partnerId, transferId, now, channel: channel ?? null }
  const [previous, claimed] = await db.pipeline.batch([
    bind(resendBefore, values),
    bind(channel ? takeResendOnChannel : takeResendKeepingChannel, values),
  ])
  return {
    // Mapped like a full row; only the selected columns are read.
    previous: previous!.rows.map(toTransfer)[0] as ResendPrevious | undefined,
    claimed: claimed!.rows.map(toTransfer)[0],
  }
}

/** A resend the provider refused does not use the partner's quota: undo it if nothing moved since. */
export const refundResend = (db: Db, previous: ResendPrevious, claimedAt: number, now: number) =>
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
  return toPage(rows, filter.limit)
}
