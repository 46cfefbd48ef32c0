import { sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { cronJobs } from '../../db/schema'

export type JobOutcome = { job: string; ok: boolean; error?: string }

/** Records how each job of a cron run ended, in one batch; a failure keeps the last success's time. */
export const recordCronRun = async (db: Db, at: number, outcomes: JobOutcome[]) => {
  const statements = outcomes.map((o) =>
    db
      .insert(cronJobs)
      .values({
        job: o.job,
        lastRunAt: at,
        lastSuccessAt: o.ok ? at : null,
        lastFailureAt: o.ok ? null : at,
        lastError: o.ok ? null : (o.error ?? 'failed'),
      })
      .onConflictDoUpdate({
        target: cronJobs.job,
        set: {
          lastRunAt: at,
          lastSuccessAt: o.ok ? at : sql`${cronJobs.lastSuccessAt}`,
          lastFailureAt: o.ok ? sql`${cronJobs.lastFailureAt}` : at,
          lastError: o.ok ? sql`${cronJobs.lastError}` : (o.error ?? 'failed'),
        },
      }),
  )
  if (statements.length) await db.batch(statements as [(typeof statements)[number], ...typeof statements])
}

export const cronJobStates = (db: Db) => db.select().from(cronJobs).orderBy(cronJobs.job)
