import { sql } from 'drizzle-orm'
import journal from '../../../db/migrations/meta/_journal.json'
import { describeError } from '../../lib/errors'
import { log } from '../../lib/log'
import { Problem } from '../../lib/problem'
import type { AppRouteHandler } from '../router'
import type * as routes from './health.routes'

// The newest migration this build expects; drizzle records each applied one by its journal time.
const expectedMigration = journal.entries.at(-1)?.when ?? 0

export const health: AppRouteHandler<typeof routes.health> = async (c) => {
  let applied: number
  try {
    const rows = await c
      .get('services')
      .db.all<{ created_at: number | null }>(sql`SELECT MAX(created_at) AS created_at FROM __drizzle_migrations`)
    applied = Number(rows[0]?.created_at ?? 0)
  } catch (error) {
    log.error('health check failed', { error: describeError(error) })
    throw new Problem('service_unavailable', { detail: 'The database cannot be reached or has not been migrated.' })
  }
  if (applied < expectedMigration) {
    throw new Problem('service_unavailable', {
      detail: 'Database migrations are behind this build; run `npm run db:migrate`.',
    })
  }
  return c.json({ status: 'ok' as const, database: 'ok' as const, migrations: 'current' as const }, 200)
}
