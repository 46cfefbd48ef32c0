import { createRoute, z } from '@hono/zod-openapi'
import { problemResponse } from '../../schemas/common'
import { json } from '../describe'

const HealthResource = z
  .object({
    status: z.literal('ok'),
    database: z.literal('ok'),
    migrations: z.literal('current'),
  })
  .openapi('Health')

export const health = createRoute({
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
