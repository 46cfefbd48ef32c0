import { createRoute, z } from '@hono/zod-openapi'
import { ModeSchema, ProviderNameSchema, Timestamp } from '../../../schemas/common'
import { adminErrors, adminSecurity, json } from '../../describe'

const HealthReport = z
  .object({
    object: z.literal('health_report'),
    status: z.enum(['ok', 'degraded']),
    checked_at: Timestamp,
    concerns: z.array(z.string()).openapi({ description: 'What needs attention, in plain words; empty when `ok`.' }),
    database: z.object({
      latency_ms: z.number().openapi({ description: 'One small query, as measured by the Worker.' }),
      migrations: z.object({
        current: z.boolean(),
        applied_at: Timestamp.nullable(),
        expected: z.string().openapi({ description: 'The newest migration this build expects (its tag).' }),
      }),
    }),
    deliveries: z.object({
      pending: z.number().int(),
      due: z.number().int().openapi({ description: 'Pending deliveries whose next attempt is due now.' }),
      oldest_due_age_seconds: z.number().int().nullable(),
    }),
    cron: z.array(
      z.object({
        job: z.string(),
        ok: z.boolean().openapi({ description: 'Succeeded within the last 5 minutes.' }),
        last_run_at: Timestamp.nullable(),
        last_success_at: Timestamp.nullable(),
        last_failure_at: Timestamp.nullable(),
        last_error: z.string().nullable(),
      }),
    ),
    providers: z.array(
      z.object({
        provider: ProviderNameSchema,
        window_seconds: z.number().int(),
        calls: z.number().int(),
        failures: z.number().int().openapi({
          description:
            "The provider's failures (outage, time-out, rate limit, refused credentials), not refusals of a request.",
        }),
        error_rate: z.number().nullable(),
        last_failure_kind: z.string().nullable(),
      }),
    ),
    connection_checks: z.object({
      checked: z.number().int(),
      failing: z.array(
        z.object({
          partner_id: z.string(),
          provider: ProviderNameSchema,
          mode: ModeSchema,
          checked_at: z.string(),
          failed: z.array(z.string()),
        }),
      ),
    }),
  })
  .openapi('HealthReport')

export const routes = {
  health: createRoute({
    operationId: 'getAdminHealth',
    method: 'get',
    path: '/health',
    tags: ['Admin'],
    security: adminSecurity,
    summary: 'How the deployment is doing',
    description:
      "The database (latency, migrations), the callback backlog, each cron job's last success, each provider's error rate over 15 minutes and failing connection checks, with what needs attention. `GET /health` stays the cheap probe for load balancers.",
    responses: {
      200: json(HealthReport, 'The report; `status` is `degraded` when anything needs attention.'),
      ...adminErrors,
    },
  }),
}
