import { eq, isNotNull, sql } from 'drizzle-orm'
import journal from '../../db/migrations/meta/_journal.json'
import { deliveries, providerConnections } from '../../db/schema'
import { iso } from '../lib/time'
import { PROVIDERS } from '../providers/provider'
import type { Services } from '../services'
import { cronJobStates } from './cron-runs'
import { providerErrorRates } from './provider-stats'

// What an operator asks before trusting a deployment (GET /admin/health): each part measured, and a
// plain list of what needs attention. /health stays the cheap probe for load balancers.

/** The jobs every scheduled run does (src/index.ts); one that has not succeeded lately is a concern. */
export const CRON_JOBS = ['sweep', 'expire', 'reconcile', 'prune_history', 'prune_audit', 'prune_stats'] as const
export type CronJob = (typeof CRON_JOBS)[number]
const CRON_STALE_MS = 5 * 60_000
const BACKLOG_STALE_MS = 10 * 60_000
const ERROR_WINDOW_MS = 15 * 60_000
const ERROR_RATE_CONCERN = 0.2

const timed = async <T>(work: () => Promise<T>) => {
  const started = performance.now()
  const value = await work()
  return { value, ms: Math.round((performance.now() - started) * 10) / 10 }
}

export const healthReport = async (services: Services) => {
  const { db } = services
  const now = services.now()
  const expected = journal.entries.at(-1)!
  const [migration, backlog, jobs, rates, checks] = await Promise.all([
    timed(() =>
      db.all<{ created_at: number | null }>(sql`SELECT MAX(created_at) AS created_at FROM __drizzle_migrations`),
    ),
    db
      .select({
        pending: sql<number>`count(*)`,
        due: sql<number>`coalesce(sum(CASE WHEN ${deliveries.nextAttemptAt} <= ${now} THEN 1 ELSE 0 END), 0)`,
        oldestDueAt: sql<
          number | null
        >`min(CASE WHEN ${deliveries.nextAttemptAt} <= ${now} THEN ${deliveries.nextAttemptAt} END)`,
      })
      .from(deliveries)
      .where(eq(deliveries.status, 'pending')),
    cronJobStates(db),
    providerErrorRates(db, now - ERROR_WINDOW_MS),
    db
      .select({
        partnerId: providerConnections.partnerId,
        provider: providerConnections.provider,
        mode: providerConnections.mode,
        lastCheck: providerConnections.lastCheck,
      })
      .from(providerConnections)
      .where(isNotNull(providerConnections.lastCheck)),
  ])

  const concerns: string[] = []
  const applied = Number(migration.value[0]?.created_at ?? 0)
  const current = applied >= expected.when
  if (!current) concerns.push('Database migrations are behind this build: run `npm run db:migrate`.')

  const queue = backlog[0] ?? { pending: 0, due: 0, oldestDueAt: null }
  const oldestDueAgeSeconds = queue.oldestDueAt === null ? null : Math.round((now - queue.oldestDueAt) / 1000)
  if (oldestDueAgeSeconds !== null && oldestDueAgeSeconds * 1000 > BACKLOG_STALE_MS)
    concerns.push(`Callback deliveries are overdue: the oldest has waited ${oldestDueAgeSeconds} s.`)

  const jobByName = new Map(jobs.map((j) => [j.job, j]))
  const cron = CRON_JOBS.map((job) => {
    const state = jobByName.get(job)
    const lastSuccessAt = state?.lastSuccessAt ?? null
    const ok = lastSuccessAt !== null && now - lastSuccessAt <= CRON_STALE_MS
    if (!ok)
      concerns.push(
        lastSuccessAt === null
          ? `The cron job ${job} has never succeeded: is the cron trigger deployed?`
          : `The cron job ${job} last succeeded ${Math.round((now - lastSuccessAt) / 1000)} s ago.`,
      )
    return {
      job,
      ok,
      last_run_at: iso(state?.lastRunAt ?? null),
      last_success_at: iso(lastSuccessAt),
      last_failure_at: iso(state?.lastFailureAt ?? null),
      last_error: state?.lastError ?? null,
    }
  })

  const providers = PROVIDERS.map((provider) => {
    const rate = rates.get(provider) ?? { calls: 0, failures: 0, lastFailureKind: null }
    const errorRate = rate.calls === 0 ? null : Math.round((rate.failures / rate.calls) * 1000) / 1000
    if (errorRate !== null && errorRate > ERROR_RATE_CONCERN)
      concerns.push(`${provider}: ${rate.failures} of ${rate.calls} calls failed in the last 15 minutes.`)
    return {
      provider,
      window_seconds: ERROR_WINDOW_MS / 1000,
      calls: rate.calls,
      failures: rate.failures,
      error_rate: errorRate,
      last_failure_kind: rate.lastFailureKind,
    }
  })

  const failing = checks
    .filter((c) => c.lastCheck && !c.lastCheck.ok)
    .map((c) => ({
      partner_id: c.partnerId,
      provider: c.provider,
      mode: c.mode,
      checked_at: c.lastCheck!.checked_at,
      failed: c.lastCheck!.checks.filter((check) => !check.ok).map((check) => check.name),
    }))
  if (failing.length) concerns.push(`${failing.length} provider connection(s) failed their last check.`)

  return {
    object: 'health_report' as const,
    status: concerns.length ? ('degraded' as const) : ('ok' as const),
    checked_at: iso(now)!,
    concerns,
    database: {
      latency_ms: migration.ms,
      migrations: { current, applied_at: iso(applied || null), expected: expected.tag },
    },
    deliveries: { pending: queue.pending, due: queue.due, oldest_due_age_seconds: oldestDueAgeSeconds },
    cron,
    providers,
    connection_checks: { checked: checks.length, failing },
  }
}
