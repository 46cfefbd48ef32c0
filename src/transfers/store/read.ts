import { and, desc, eq, gte, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client'
import { bind, compile } from '../../../db/compiled'
import { ownedBy } from '../../../db/owned'
import { type Transfer, transfers } from '../../../db/schema'
import { toPage } from '../../lib/page'
import type { ProviderName, WebhookNotice } from '../../providers/provider'
import type { Owner } from '../../services'
import { keyOf, keyValues, toTransfer } from './statements'

const selectByPartnerId = compile((b) => b.select().from(transfers).where(keyOf()).limit(1))

export const findTransfer = async (db: Db, owner: Owner, transferId: string): Promise<Transfer | undefined> => {
  const { rows } = await db.pipeline.execute(bind(selectByPartnerId, keyValues(owner, transferId)))
  return rows[0] ? toTransfer(rows[0]) : undefined
}

export const findTransferByReference = async (db: Db, provider: ProviderName, reference: string) =>
  (
    await db
      .select()
      .from(transfers)
      .where(and(eq(transfers.provider, provider), eq(transfers.providerReference, reference)))
      .limit(1)
  )[0]

/**
 * The transfer a provider webhook names: by the provider's reference, or (when our create's answer
 * was lost, so no reference is recorded yet) by a key the adapter stored in provider_state before
 * the create, on a transfer still submitting.
 */
export const findTransferForWebhook = async (db: Db, provider: ProviderName, lookup: WebhookNotice['lookup']) => {
  if (lookup.reference) {
    const byReference = await findTransferByReference(db, provider, lookup.reference)
    if (byReference) return byReference
  }
  if (!lookup.stateKey) return undefined
  const [row] = await db
    .select()
    .from(transfers)
    .where(
      and(
        eq(transfers.status, 'submitting'),
        eq(transfers.provider, provider),
        sql`json_extract(${transfers.providerState}, ${`$.${lookup.stateKey.name}`}) = ${lookup.stateKey.value}`,
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
      .where(
        and(
          eq(transfers.id, id),
          sql`(${transfers.reconciledAt} IS NULL OR ${transfers.reconciledAt} < ${now - gapMs})`,
        ),
      )
      .returning({ id: transfers.id })
  ).length === 1

export type ListFilter = {
  status?: string
  provider?: ProviderName
  limit: number
  startingAfter?: string
  /** The partner's transfer_id or the provider's reference, exactly (the portal's search). */
  search?: string
  createdFrom?: number
  createdBefore?: number
}

/** Newest first; ids are time-ordered, so the cursor is "ids below the cursor transfer's id". */
export const listTransfers = async (db: Db, owner: Owner, filter: ListFilter) => {
  const conditions = [ownedBy(transfers, owner)]
  if (filter.status) conditions.push(eq(transfers.status, filter.status))
  if (filter.provider) conditions.push(eq(transfers.provider, filter.provider))
  if (filter.search) {
    conditions.push(or(eq(transfers.transferId, filter.search), eq(transfers.providerReference, filter.search))!)
  }
  if (filter.createdFrom !== undefined) conditions.push(gte(transfers.createdAt, filter.createdFrom))
  if (filter.createdBefore !== undefined) conditions.push(lt(transfers.createdAt, filter.createdBefore))
  if (filter.startingAfter) {
    conditions.push(
      lt(
        transfers.id,
        sql`(SELECT id FROM transfers WHERE partner_id = ${owner.id} AND mode = ${owner.mode} AND transfer_id = ${filter.startingAfter})`,
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

/**
 * How many of the owner's transfers were created since each of two moments, by status, in one scan
 * (the portal's overview: the last 24 hours and the last 7 days).
 */
export const countByStatus = async (db: Db, owner: Owner, since: { recent: number; wider: number }) => {
  const rows = await db
    .select({
      status: transfers.status,
      recent: sql<number>`sum(${transfers.createdAt} >= ${since.recent})`,
      wider: sql<number>`count(*)`,
    })
    .from(transfers)
    .where(and(ownedBy(transfers, owner), gte(transfers.createdAt, Math.min(since.recent, since.wider))))
    .groupBy(transfers.status)
  return {
    recent: rows.map((r) => ({ status: r.status, count: Number(r.recent) })),
    wider: rows.map((r) => ({ status: r.status, count: Number(r.wider) })),
  }
}
