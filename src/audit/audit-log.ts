import type { InStatement } from '@libsql/client/web'
import { and, desc, eq, gte, isNull, lt, lte, or, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { bind, compile } from '../../db/compiled'
import { type AuditEntry, auditLog } from '../../db/schema'
import { toPage } from '../lib/page'
import type { Owner, Services } from '../services'

// The audit log's storage: the two statements every audited request writes (see middleware/audit.ts),
// the lists people read, and retention.

const p = sql.placeholder
const placeholders = () =>
  ({
    id: p('id'),
    partnerId: p('partnerId'),
    mode: p('mode'),
    actorType: p('actorType'),
    actorId: p('actorId'),
    actorLabel: p('actorLabel'),
    action: p('action'),
    objectType: p('objectType'),
    objectId: p('objectId'),
    outcome: p('outcome'),
    status: p('status'),
    problemCode: p('problemCode'),
    clientAddress: p('clientAddress'),
    requestId: p('requestId'),
    createdAt: p('createdAt'),
  }) as unknown as typeof auditLog.$inferInsert

// With each change: the entry, outcome still pending, unless an earlier write of the request made it.
const insertPending = compile((db) => db.insert(auditLog).values(placeholders()).onConflictDoNothing())

// When the request has answered: its outcome, and what only the answer named (a created object, the
// partner a sign-in belongs to). Written alone if the request changed nothing.
const recordOutcome = compile((db) =>
  db
    .insert(auditLog)
    .values(placeholders())
    .onConflictDoUpdate({
      target: auditLog.id,
      set: {
        outcome: sql`excluded.outcome`,
        status: sql`excluded.status`,
        problemCode: sql`excluded.problem_code`,
        partnerId: sql`coalesce(${auditLog.partnerId}, excluded.partner_id)`,
        mode: sql`coalesce(${auditLog.mode}, excluded.mode)`,
        objectId: sql`coalesce(${auditLog.objectId}, excluded.object_id)`,
      },
    }),
)

export const pendingEntryStatement = (entry: AuditEntry) => bind(insertPending, { ...entry, outcome: 'pending' })
export const finalEntryStatement = (entry: AuditEntry) => bind(recordOutcome, entry)

/**
 * Outcomes of answered requests, waiting in this isolate to ride with the next write of any request
 * (a round trip saved per audited request) or, after OUTCOME_FLUSH_MS without one, to go alone. One
 * that never gets written leaves its entry `pending`: what the change did is recorded, its answer not.
 */
const waitingOutcomes: InStatement[] = []
export const OUTCOME_FLUSH_MS = 1000
// Beyond this many (the database unreachable for long), the oldest are dropped.
const MAX_WAITING_OUTCOMES = 500
const OUTCOMES_PER_WRITE = 50

export const queueOutcome = (statement: InStatement) => {
  waitingOutcomes.push(statement)
  if (waitingOutcomes.length > MAX_WAITING_OUTCOMES)
    waitingOutcomes.splice(0, waitingOutcomes.length - MAX_WAITING_OUTCOMES)
}
const handedOut = new WeakSet<InStatement & object>()

export const takeOutcomes = () => {
  const taken = waitingOutcomes.splice(0, OUTCOMES_PER_WRITE)
  for (const statement of taken) handedOut.add(statement as InStatement & object)
  return taken
}
/** A failed write's statements: the outcomes among them wait again (the rest is not ours). */
export const returnOutcomes = (statements: InStatement[]) => {
  waitingOutcomes.unshift(...statements.filter((s) => handedOut.has(s as InStatement & object)))
  if (waitingOutcomes.length > MAX_WAITING_OUTCOMES) waitingOutcomes.length = MAX_WAITING_OUTCOMES
}

let flushing: Promise<void> | null = null

/**
 * Writes the outcomes still waiting OUTCOME_FLUSH_MS after the first of them began to wait: one timer
 * per isolate, not one per request (a timer and the waitUntil held on it cost a request 37–72 µs of
 * CPU in the profiles). Every request whose outcome waits holds this same flush, which takes it along;
 * the one that armed it reports its failure.
 */
export const flushOutcomesSoon = (db: Db): Promise<void> => {
  if (flushing) return flushing.catch(() => {})
  flushing = (async () => {
    await new Promise((resolve) => setTimeout(resolve, OUTCOME_FLUSH_MS))
    // Outcomes queued from here on arm the next flush.
    flushing = null
    const writes: Promise<unknown>[] = []
    for (let statements = takeOutcomes(); statements.length > 0; statements = takeOutcomes()) {
      const taken = statements
      writes.push(
        db.pipeline.batch(taken, 'write').catch((error: unknown) => {
          returnOutcomes(taken)
          throw error
        }),
      )
    }
    const failed = (await Promise.allSettled(writes)).find((write) => write.status === 'rejected')
    if (failed) throw failed.reason
  })()
  return flushing
}

export type AuditQuery = {
  limit: number
  startingAfter?: string
  action?: string
  objectId?: string
  actorType?: AuditEntry['actorType']
  outcome?: AuditEntry['outcome']
  since?: number
  until?: number
}

/** Newest first, by the time-ordered id. */
const listWhere = (query: AuditQuery) => [
  query.action ? eq(auditLog.action, query.action) : undefined,
  query.objectId ? eq(auditLog.objectId, query.objectId) : undefined,
  query.actorType ? eq(auditLog.actorType, query.actorType) : undefined,
  query.outcome ? eq(auditLog.outcome, query.outcome) : undefined,
  query.since !== undefined ? gte(auditLog.createdAt, query.since) : undefined,
  query.until !== undefined ? lte(auditLog.createdAt, query.until) : undefined,
  query.startingAfter ? lt(auditLog.id, query.startingAfter) : undefined,
]

const page = async (db: Db, where: ReturnType<typeof and>, limit: number) =>
  toPage(
    await db
      .select()
      .from(auditLog)
      .where(where)
      .orderBy(desc(auditLog.id))
      .limit(limit + 1),
    limit,
  )

/** A partner's own entries in its mode, and the operator's actions on it (which have no mode). */
export const listPartnerAudit = (db: Db, owner: Owner, query: AuditQuery) =>
  page(
    db,
    and(
      eq(auditLog.partnerId, owner.id),
      or(eq(auditLog.mode, owner.mode), isNull(auditLog.mode)),
      ...listWhere(query),
    ),
    query.limit,
  )

/** Every entry, for the operator; optionally one partner's. */
export const listAudit = (db: Db, query: AuditQuery & { partnerId?: string }) =>
  page(db, and(query.partnerId ? eq(auditLog.partnerId, query.partnerId) : undefined, ...listWhere(query)), query.limit)

// Bounded per run, like the callback history's pruning.
const PRUNE_BATCH = 1000

/** Entries older than AUDIT_RETENTION_DAYS go, oldest first. */
export const pruneAuditLog = async (services: Services) => {
  const cutoff = services.now() - services.settings.AUDIT_RETENTION_DAYS * 86_400_000
  const result = await services.db.run(
    sql`DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE created_at < ${cutoff} ORDER BY created_at LIMIT ${PRUNE_BATCH})`,
  )
  return { audit_entries: result.rowsAffected }
}
