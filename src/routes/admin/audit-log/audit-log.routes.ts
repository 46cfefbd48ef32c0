import { createRoute } from '@hono/zod-openapi'
import { AdminAuditLogQuery, AuditLogList } from '../../../schemas/audit'
import { adminErrors, adminSecurity, json } from '../../describe'

export const routes = {
  list: createRoute({
    operationId: 'listAuditLogAdmin',
    method: 'get',
    path: '/audit-log',
    tags: ['Admin'],
    security: adminSecurity,
    summary: 'List the audit log, newest first',
    description:
      'Every admin write, key, connection, endpoint and portal-session change, portal sign-in and sign-out, and every money action with its outcome, across partners (or one: `partner_id`).',
    request: { query: AdminAuditLogQuery },
    responses: { 200: json(AuditLogList, 'A page of entries.'), ...adminErrors },
  }),
}
