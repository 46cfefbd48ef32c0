import { gte, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { providerCallStats } from '../../db/schema'
import type { ProviderErrorKind, ProviderName, TransferProvider } from '../providers/provider'

// How often each provider's calls fail, for /admin/health: counted in this isolate per provider and
// minute, and added to provider_call_stats at most every PROVIDER_STATS_FLUSH_SECONDS (after an answer,
// never on its path). An isolate that ends between flushes loses its last few seconds of counts.

// The provider's failures; a refusal of the request itself (a wrong code, a closed transfer) is not one.
const PROVIDER_FAILURES = new Set<ProviderErrorKind>(['unavailable', 'timeout', 'rate_limited', 'unauthorized'])

type Count = { calls: number; failures: number; lastFailureKind: string | null }
const pending = new Map<string, Count>()
let lastFlushAt = 0

const record = (provider: ProviderName, at: number, failureKind: ProviderErrorKind | null) => {
  const key = `${provider}\u0000${Math.floor(at / 60_000)}`
  const count = pending.get(key) ?? { calls: 0, failures: 0, lastFailureKind: null }
  count.calls += 1
  if (failureKind) {
    count.failures += 1
    count.lastFailureKind = failureKind
  }
  pending.set(key, count)
}

const isResult = (value: unknown): value is { ok: boolean; error?: { kind: ProviderErrorKind } } =>
  typeof value === 'object' && value !== null && typeof (value as { ok?: unknown }).ok === 'boolean'

// The adapter's methods that call the provider and answer a Result.
const CALLS = ['create', 'confirm', 'resend', 'cancel', 'fetchStatus', 'fetchMany'] as const

/** The adapter with every provider call counted: its Result says whether the provider failed. */
export const countedProvider = (
  adapter: TransferProvider,
  name: ProviderName,
  now: () => number,
  afterCall: (failureKind: ProviderErrorKind | null) => void,
): TransferProvider => {
  const count = <T>(result: T): T => {
    if (isResult(result)) {
      const kind = result.ok ? null : (result.error?.kind ?? null)
      const failure = kind && PROVIDER_FAILURES.has(kind) ? kind : null
      record(name, now(), failure)
      afterCall(failure)
    }
    return result
  }
  const counted: Record<string, unknown> = { ...adapter }
  for (const key of CALLS) {
    const call = adapter[key] as ((...args: unknown[]) => Promise<unknown>) | null | undefined
    if (!call) continue
    counted[key] = async (...args: unknown[]) => count(await call.apply(adapter, args))
  }
  // An upload answers when its body has ended: counted then.
  const { uploadDocuments } = adapter
  if (uploadDocuments) {
    counted.uploadDocuments = (userId: string) => {
      const upload = uploadDocuments.call(adapter, userId)
      return { ...upload, result: upload.result.then(count) }
    }
  }
  return counted as TransferProvider
}

/**
 * Adds this isolate's counts to the table if the last flush is `intervalMs` old (one batch), and
 * forgets them; null when nothing is due, so a call between flushes costs no promise.
 */
export const flushProviderStats = (db: Db, at: number, intervalMs: number): Promise<void> | null => {
  if (pending.size === 0 || at - lastFlushAt < intervalMs) return null
  lastFlushAt = at
  return writeCounts(db)
}

const writeCounts = async (db: Db) => {
  const counts = [...pending]
  pending.clear()
  const statements = counts.map(([key, count]) => {
    const [provider, minute] = key.split('\u0000') as [string, string]
    return db
      .insert(providerCallStats)
      .values({ provider, minute: Number(minute), ...count })
      .onConflictDoUpdate({
        target: [providerCallStats.provider, providerCallStats.minute],
        set: {
          calls: sql`${providerCallStats.calls} + excluded.calls`,
          failures: sql`${providerCallStats.failures} + excluded.failures`,
          lastFailureKind: sql`coalesce(excluded.last_failure_kind, ${providerCallStats.lastFailureKind})`,
        },
      })
  })
  await db.batch(statements as [(typeof statements)[number], ...typeof statements])
}

/** Calls, failures and the latest failure's kind per provider since `since`. */
export const providerErrorRates = async (db: Db, since: number) => {
  const rows = await db
    .select()
    .from(providerCallStats)
    .where(gte(providerCallStats.minute, Math.floor(since / 60_000)))
    .orderBy(providerCallStats.minute)
  const byProvider = new Map<string, { calls: number; failures: number; lastFailureKind: string | null }>()
  for (const row of rows) {
    const total = byProvider.get(row.provider) ?? { calls: 0, failures: 0, lastFailureKind: null }
    total.calls += row.calls
    total.failures += row.failures
    if (row.failures > 0) total.lastFailureKind = row.lastFailureKind
    byProvider.set(row.provider, total)
  }
  return byProvider
}

/** Minutes older than `before` go (the cron keeps a day). */
export const pruneProviderStats = (db: Db, before: number) =>
  db.run(sql`DELETE FROM provider_call_stats WHERE minute < ${Math.floor(before / 60_000)}`)
