import { createRoute, z } from '@hono/zod-openapi'
import { sql } from 'drizzle-orm'
import journal from '../../db/migrations/meta/_journal.json'
import { Problem } from '../lib/problem'
import { createRouter } from './router'
import { problemResponse } from '../schemas/common'
import { json } from './describe'
import { describeError } from '../lib/errors'

// The newest migration this build expects; drizzle records each applied one by its journal time.
const expectedMigration = journal.entries.at(-1)?.when ?? 0

const HealthResource = z
  .object({
    status: z.literal('ok'),
    database: z.literal('ok'),
    migrations: z.literal('current'),
  })
  .openapi('Health')

const health = createRoute({
  operationId: 'getHealth',
  method: 'get',
  path: '/health',
  tags: ['Operations'],
  summary: 'Liveness and readiness',
  security: [],
  description: 'Ready when the database answers and every migration this build expects has been applied.',
  responses: {
    200: json(HealthResource, 'Ready.'),
    503: problemResponse('Database unreachable or migrations missing (`service_unavailable`).'),
  },
})

export const healthRouter = createRouter().openapi(health, async (c) => {
  let applied: number
  try {
    const rows = await c.var.services.db.all<{ created_at: number | null }>(
      sql`SELECT MAX(created_at) AS created_at FROM __drizzle_migrations`,
    )
    applied = Number(rows[0]?.created_at ?? 0)
  } catch (error) {
    console.error(JSON.stringify({ level: 'error', msg: 'health check failed', error: describeError(error) }))
    throw new Problem('service_unavailable', { detail: 'The database cannot be reached or has not been migrated.' })
  }
  if (applied < expectedMigration) {
    throw new Problem('service_unavailable', { detail: 'Database migrations are behind this build; run `npm run db:migrate`.' })
  }
  return c.json({ status: 'ok' as const, database: 'ok' as const, migrations: 'current' as const }, 200)
})
