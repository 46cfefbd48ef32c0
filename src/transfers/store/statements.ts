import { and, eq, type SQL, sql } from 'drizzle-orm'
import { rowMapper } from '../../../db/compiled'
import { transfers } from '../../../db/schema'
import { PROVIDERS, type ProviderName } from '../../providers/provider'
import type { Owner } from '../../services'

// Storage for transfers. Every decision that races (idempotent create, attempts, resends, status
// changes) is one conditional statement, and each operation is at most one batch per step. The
// pieces here are shared by the statements beside this file, built once per isolate (db/compiled.ts).

export const toTransfer = rowMapper(transfers)
export const p = sql.placeholder
/** The placeholders keyOf() reads, from the owner and the partner's transfer_id. */
export const keyValues = (owner: Owner, transferId: string) => ({ partnerId: owner.id, mode: owner.mode, transferId })

export const keyOf = () =>
  and(eq(transfers.partnerId, p('partnerId')), eq(transfers.mode, p('mode')), eq(transfers.transferId, p('transferId')))
// Pending verification and not past its TTL (the cron marks it expired a little later).
export const pendingNow = () =>
  and(
    eq(transfers.status, 'pending_verification'),
    sql`(${transfers.expiresAt} IS NULL OR ${transfers.expiresAt} > ${p('now')})`,
  )

// One SQL value per provider, chosen by the row's provider column.
export const perProvider = (value: (name: ProviderName) => SQL) =>
  sql`CASE ${transfers.provider} ${sql.join(
    PROVIDERS.map((name) => sql`WHEN ${name} THEN ${value(name)}`),
    sql` `,
  )} END`
