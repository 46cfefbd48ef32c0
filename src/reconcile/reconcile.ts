import { and, asc, eq, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm'
import { type Transfer, transfers } from '../../db/schema'
import { log } from '../lib/log'
import { Problem } from '../lib/problem'
import { loadPartnerById } from '../partners/lookup'
import { isTransient, type ProviderName, type TransferProvider } from '../providers/provider'
import { PROVIDERS } from '../schemas/common'
import type { PartnerContext, Services } from '../services'
import { applySnapshot, endOnGatewaySide, reconcileTransfer } from '../transfers/apply'

/**
 * The cron's view of providers: sFOX pushes nothing, so open sFOX transfers are polled; QI TEDs
 * stuck in `processing` are re-fetched; transfers left pending verification past their TTL expire.
 * Work per run is bounded, and sFOX calls are paced under its 250 requests / 10 s limit.
 */

/**
 * Spaces calls to one provider evenly: at most `perTenSeconds` in any 10 s. Each caller reserves
 * its slot before waiting, so concurrent jobs sharing a pacer never go together.
 */
const pacer = (perTenSeconds: number) => {
  const gapMs = 10_000 / perTenSeconds
  let next = 0
  return async () => {
    const at = Math.max(Date.now(), next)
    next = at + gapMs
    const wait = at - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  }
}

export type Pacing = Record<ProviderName, () => Promise<void>>

/** One per cron run, shared by its jobs: the provider's limit is for all of them together. */
export const newPacing = (settings: Services['settings']): Pacing => ({
  sfox: pacer(settings.SFOX_REQUESTS_PER_10S),
  qi: async () => {},
})

type Run = { services: Services; partners: Map<string, PartnerContext | null>; pace: Pacing }

const newRun = (services: Services, pace: Pacing): Run => ({ services, partners: new Map(), pace })

/** The partner as it stands in the transfer's mode (that mode's connections), loaded once per run. */
const partnerOf = async (run: Run, transfer: Pick<Transfer, 'partnerId' | 'mode'>) => {
  const key = `${transfer.partnerId}:${transfer.mode}`
  if (!run.partners.has(key)) {
    run.partners.set(
      key,
      await loadPartnerById(run.services.db, transfer.partnerId, transfer.mode, run.services.settings),
    )
  }
  return run.partners.get(key) ?? null
}

const providerOf = async (run: Run, partner: PartnerContext, name: ProviderName): Promise<TransferProvider | null> => {
  try {
    return await run.services.providerFor(partner, name)
  } catch (error) {
    if (error instanceof Problem) return null // no (usable) connection: nothing to ask
    throw error
  }
}

/** Transfers grouped by owner: a partner in one mode (each mode has its own connections). */
const byOwner = (rows: Transfer[]) => {
  const groups = new Map<string, Transfer[]>()
  for (const row of rows) {
    const key = `${row.partnerId}:${row.mode}`
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  return groups
}

export type ReconcileReport = { checked: number; changed: number; failed: number }

/** Asks each provider about open transfers, least recently checked first, and applies the answers. */
export const reconcileOpen = async (
  services: Services,
  pace = newPacing(services.settings),
): Promise<ReconcileReport> => {
  const run = newRun(services, pace)
  const now = services.now()
  // Fresh QI transfers get their webhooks; only those quiet for a while are asked about.
  const quietSince = now - services.settings.RECONCILE_QUIET_SECONDS * 1000
  const open = and(
    or(isNull(transfers.leaseUntil), lt(transfers.leaseUntil, now)),
    or(
      and(
        eq(transfers.provider, 'sfox'),
        inArray(transfers.status, ['submitting', 'pending_verification', 'processing']),
      ),
      and(
        eq(transfers.provider, 'qi'),
        inArray(transfers.status, ['submitting', 'processing']),
        lte(transfers.updatedAt, quietSince),
      ),
    ),
  )
  const rows = await services.db
    .select()
    .from(transfers)
    .where(open)
    .orderBy(sql`${transfers.reconciledAt} IS NOT NULL`, asc(transfers.reconciledAt))
    .limit(services.settings.RECONCILE_BATCH_SIZE)
  if (rows.length === 0) return { checked: 0, changed: 0, failed: 0 }

  const report: ReconcileReport = { checked: 0, changed: 0, failed: 0 }
  for (const group of byOwner(rows).values()) {
    const partner = await partnerOf(run, group[0]!)
    if (!partner) continue
    for (const name of PROVIDERS) {
      const mine = group.filter((t) => t.provider === name)
      if (mine.length === 0) continue
      const provider = await providerOf(run, partner, name)
      if (!provider) continue
      await run.pace[name]()
      const answer = await provider.fetchMany(mine)
      if (!answer.ok) {
        report.failed += mine.length
        continue
      }
      for (const transfer of mine) {
        if (!answer.value.has(transfer.id)) {
          report.failed += 1 // the provider could not tell this time
          continue
        }
        report.checked += 1
        const snapshot = answer.value.get(transfer.id)
        const before = transfer.status
        const after = snapshot
          ? await applySnapshot(services, transfer, snapshot)
          : await giveUpOnUnconfirmed(services, transfer, now)
        if (after.status !== before) report.changed += 1
      }
    }
  }
  await services.db
    .update(transfers)
    .set({ reconciledAt: now })
    .where(
      inArray(
        transfers.id,
        rows.map((r) => r.id),
      ),
    )
  return report
}

/**
 * A create whose answer was lost and that the provider still does not know after the pending TTL
 * never happened: it fails, and the partner hears so (transfer.failed).
 */
const giveUpOnUnconfirmed = async (services: Services, transfer: Transfer, now: number) => {
  if (transfer.status !== 'submitting' || transfer.createdAt + services.settings.PENDING_TTL_SECONDS * 1000 > now)
    return transfer
  return applySnapshot(services, transfer, {
    reference: transfer.providerReference,
    providerStatus: 'unknown',
    status: 'failed',
    failure: { code: 'submission_unconfirmed', message: 'The provider never confirmed this transfer.' },
  })
}

/**
 * Transfers pending verification past PENDING_TTL become `expired`: canceled at sFOX first (its
 * held funds are released), gateway-side for QI. If the provider already settled it, that wins.
 */
export const expirePending = async (
  services: Services,
  pace = newPacing(services.settings),
): Promise<ReconcileReport> => {
  const run = newRun(services, pace)
  const now = services.now()
  const due = await services.db
    .select()
    .from(transfers)
    .where(and(eq(transfers.status, 'pending_verification'), lte(transfers.expiresAt, now)))
    // Rows that could not be expired last time go after the others, so a few that keep failing
    // (a revoked connection) never hold up the rest of the batch.
    .orderBy(sql`${transfers.reconciledAt} IS NOT NULL`, asc(transfers.reconciledAt), asc(transfers.expiresAt))
    .limit(services.settings.RECONCILE_BATCH_SIZE)
  const report: ReconcileReport = { checked: 0, changed: 0, failed: 0 }
  // After one failure at a partner's provider this run, its other rows wait for the next run.
  const failing = new Set<string>()
  const retryLater: string[] = []
  const failed = (transfer: Transfer) => {
    report.failed += 1
    failing.add(`${transfer.partnerId}:${transfer.mode}:${transfer.provider}`)
    retryLater.push(transfer.id)
  }
  for (const transfer of due) {
    report.checked += 1
    if (failing.has(`${transfer.partnerId}:${transfer.mode}:${transfer.provider}`)) {
      failed(transfer)
      continue
    }
    const partner = await partnerOf(run, transfer)
    const provider = partner ? await providerOf(run, partner, transfer.provider) : null
    const expire = (providerStatus: string | null) =>
      applySnapshot(
        services,
        transfer,
        { reference: transfer.providerReference, providerStatus: providerStatus ?? '', status: 'expired' },
        {},
        { unleased: true },
      )
    if (!partner || !provider) {
      // No usable connection: nothing to ask or cancel at the provider.
      if ((await expire(transfer.providerStatus)).status === 'expired') report.changed += 1
      continue
    }
    await run.pace[transfer.provider]()
    if (!provider.cancel) {
      const ended = await endOnGatewaySide(services, provider, transfer, 'expired')
      if (ended.ok) {
        if (ended.value.status !== transfer.status) report.changed += 1
      } else if (ended.error.kind === 'not_found') {
        // The provider has no such transfer: nothing there can approve it.
        if ((await expire(transfer.providerStatus)).status === 'expired') report.changed += 1
      } else {
        failed(transfer)
      }
      continue
    }
    const canceled = await provider.cancel(transfer)
    if (canceled.ok) {
      if ((await expire(canceled.value.providerStatus)).status === 'expired') report.changed += 1
    } else if (canceled.error.kind === 'not_pending') {
      await run.pace[transfer.provider]()
      const current = await reconcileTransfer(services, partner, transfer)
      if (current.status !== transfer.status) report.changed += 1
    } else if (canceled.error.kind === 'not_found') {
      if ((await expire(transfer.providerStatus)).status === 'expired') report.changed += 1
    } else {
      // An outage: the next run tries again; the transfer stays unconfirmable meanwhile.
      failed(transfer)
      if (!isTransient(canceled.error.kind)) {
        log.warn('expiry cancel refused', { transfer: transfer.id, error: canceled.error.message })
      }
    }
  }
  if (retryLater.length > 0)
    await services.db.update(transfers).set({ reconciledAt: now }).where(inArray(transfers.id, retryLater))
  return report
}
