import { and, eq, ne, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client'
import { bind, compile } from '../../../db/compiled'
import { type NewTransfer, type Transfer, transfers } from '../../../db/schema'
import { keyOf, p, toTransfer } from './statements'

export type CreateClaim = { kind: 'created' | 'resumed' | 'replay' | 'in_flight' | 'conflict'; transfer: Transfer }

// The columns a create writes (each encoded by its column, JSON ones included).
const INSERTED = [
  'id',
  'partnerId',
  'mode',
  'transferId',
  'provider',
  'status',
  'requestHash',
  'details',
  'metadata',
  'providerReference',
  'providerState',
  'leaseUntil',
  'resendLimit',
  'resendCooldownMs',
  'confirmLimit',
  'createdAt',
  'updatedAt',
] as const
const insertTransfer = compile((b) =>
  b
    .insert(transfers)
    .values(Object.fromEntries(INSERTED.map((c) => [c, p(c)])) as unknown as NewTransfer)
    .onConflictDoNothing({ target: [transfers.partnerId, transfers.mode, transfers.transferId] }),
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
const selectOthers = compile((b) =>
  b
    .select()
    .from(transfers)
    .where(and(keyOf(), ne(transfers.id, p('id')))),
)

/**
 * Inserts the transfer unless the partner already has one with that id; in the same round trip
 * takes over a `submitting` one whose earlier attempt ended without an answer (expired lease).
 */
export const claimCreate = async (
  db: Db,
  row: NewTransfer & { leaseUntil: number; mode: Transfer['mode'] },
  now: number,
): Promise<CreateClaim> => {
  const values = { ...Object.fromEntries(INSERTED.map((c) => [c, row[c] ?? null])), now }
  // On the common path (a new transfer) no statement returns a row: the new one is known already.
  const [, resumed, existing] = await db.pipeline.batch([
    bind(insertTransfer, values),
    bind(resumeCreate, values),
    bind(selectOthers, values),
  ])
  const [found] = existing!.rows.map(toTransfer)
  if (!found) return { kind: 'created', transfer: asStored(row) }
  if (found.requestHash !== row.requestHash) return { kind: 'conflict', transfer: found }
  const [resumedRow] = resumed!.rows.map(toTransfer)
  if (resumedRow) return { kind: 'resumed', transfer: resumedRow }
  return { kind: found.status === 'submitting' ? 'in_flight' : 'replay', transfer: found }
}

/** A freshly inserted row as the database holds it (column defaults filled in). */
const asStored = (row: NewTransfer & { mode: Transfer['mode'] }): Transfer => ({
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
  db
    .delete(transfers)
    .where(and(eq(transfers.id, id), eq(transfers.status, 'submitting'), eq(transfers.leaseUntil, heldLease)))
