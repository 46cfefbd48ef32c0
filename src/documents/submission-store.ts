import { and, desc, eq, isNull, lt, ne, or } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { ownedBy } from '../../db/owned'
import { type DocumentSubmission, documentSubmissions, type SubmittedFile } from '../../db/schema'
import { newId } from '../lib/ids'
import { toPage } from '../lib/page'
import type { Owner } from '../services'

export type SubmissionClaim = {
  kind: 'new' | 'resumed' | 'replay' | 'in_flight' | 'conflict'
  submission: DocumentSubmission
}

/**
 * Records a submission about to be sent. With an Idempotency-Key, in the same round trip: finds the
 * partner's earlier submission under that key, and takes it over if its attempt ended without an
 * answer (failed, or an expired lease).
 */
export const claimSubmission = async (
  db: Db,
  input: {
    owner: Owner
    userId: string
    ddqId: string | null
    idempotencyKey: string | null
    requestHash: string
    files: SubmittedFile[]
  },
  now: number,
  leaseMs: number,
): Promise<SubmissionClaim> => {
  const row = {
    id: newId('ds', now),
    partnerId: input.owner.id,
    mode: input.owner.mode,
    provider: 'sfox' as const,
    userId: input.userId,
    ddqId: input.ddqId,
    idempotencyKey: input.idempotencyKey,
    requestHash: input.requestHash,
    status: 'submitting' as const,
    files: input.files,
    leaseUntil: now + leaseMs,
    createdAt: now,
    updatedAt: now,
  }
  if (!input.idempotencyKey) {
    const [inserted] = await db.insert(documentSubmissions).values(row).returning()
    return { kind: 'new', submission: inserted! }
  }
  const key = and(
    eq(documentSubmissions.partnerId, input.owner.id),
    eq(documentSubmissions.mode, input.owner.mode),
    eq(documentSubmissions.idempotencyKey, input.idempotencyKey),
  )
  const [, resumed, existing] = await db.batch([
    db.insert(documentSubmissions).values(row).onConflictDoNothing(),
    db
      .update(documentSubmissions)
      .set({ status: 'submitting', leaseUntil: row.leaseUntil, updatedAt: now })
      .where(
        and(
          key,
          eq(documentSubmissions.requestHash, input.requestHash),
          or(
            eq(documentSubmissions.status, 'failed'),
            and(
              eq(documentSubmissions.status, 'submitting'),
              or(isNull(documentSubmissions.leaseUntil), lt(documentSubmissions.leaseUntil, now)),
            ),
          ),
        ),
      )
      .returning(),
    db
      .select()
      .from(documentSubmissions)
      .where(and(key, ne(documentSubmissions.id, row.id))),
  ])
  const [found] = existing
  if (!found) return { kind: 'new', submission: { ...row, failureCode: null, failureMessage: null } }
  if (found.requestHash !== input.requestHash) return { kind: 'conflict', submission: found }
  if (resumed[0]) return { kind: 'resumed', submission: resumed[0] }
  return { kind: found.status === 'submitting' ? 'in_flight' : 'replay', submission: found }
}

export type SubmissionOutcome =
  | { status: 'submitted' }
  | { status: 'rejected' | 'failed'; failureCode: string; failureMessage: string }

/** A refusal releases the Idempotency-Key (the partner fixes and retries); an outage keeps it. */
export const finishSubmission = async (db: Db, id: string, outcome: SubmissionOutcome, now: number) => {
  const [row] = await db
    .update(documentSubmissions)
    .set({
      status: outcome.status,
      leaseUntil: null,
      failureCode: outcome.status === 'submitted' ? null : outcome.failureCode,
      failureMessage: outcome.status === 'submitted' ? null : outcome.failureMessage,
      ...(outcome.status === 'rejected' ? { idempotencyKey: null } : {}),
      updatedAt: now,
    })
    .where(eq(documentSubmissions.id, id))
    .returning()
  return row!
}

export const findSubmission = async (db: Db, owner: Owner, id: string) =>
  (
    await db
      .select()
      .from(documentSubmissions)
      .where(and(eq(documentSubmissions.id, id), ownedBy(documentSubmissions, owner)))
      .limit(1)
  )[0]

/** Newest first; one end user's, or (no `userId`, the portal) everyone's. */
export const listSubmissions = async (
  db: Db,
  owner: Owner,
  userId: string | undefined,
  limit: number,
  startingAfter?: string,
) => {
  const rows = await db
    .select()
    .from(documentSubmissions)
    .where(
      and(
        ownedBy(documentSubmissions, owner),
        userId === undefined ? undefined : eq(documentSubmissions.userId, userId),
        startingAfter ? lt(documentSubmissions.id, startingAfter) : undefined,
      ),
    )
    .orderBy(desc(documentSubmissions.id))
    .limit(limit + 1)
  return toPage(rows, limit)
}

/** The partner's submission under an Idempotency-Key, if one holds it. */
export const findByIdempotencyKey = async (db: Db, owner: Owner, idempotencyKey: string) =>
  (
    await db
      .select()
      .from(documentSubmissions)
      .where(and(ownedBy(documentSubmissions, owner), eq(documentSubmissions.idempotencyKey, idempotencyKey)))
      .limit(1)
  )[0]

/** An attempt that ended without an answer (failed, or its lease ran out): claimSubmission lets a retry take it over. */
export const isResumable = (submission: DocumentSubmission, now: number) =>
  submission.status === 'failed' ||
  (submission.status === 'submitting' && (submission.leaseUntil === null || submission.leaseUntil < now))
