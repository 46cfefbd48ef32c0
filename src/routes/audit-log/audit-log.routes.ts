import { createRoute } from '@hono/zod-openapi'
import { AuditLogList, AuditLogQuery } from '../../schemas/audit'
import { problemResponse } from '../../schemas/common'
import { json, partnerSecurity } from '../describe'

export const routes = {
  list: createRoute({
    operationId: 'listAuditLog',
    method: 'get',
    path: '/',
    tags: ['Audit log'],
    security: partnerSecurity,
    summary: "List the audit log's entries about you, newest first",
    description:
      "Every write made with your keys or in your portal (money actions with their outcome, endpoint and key changes, portal sign-ins), in the key's mode, and the operator's actions on your account. Never codes, secrets or request bodies.",
    request: { query: AuditLogQuery },
    responses: {
      200: json(AuditLogList, 'A page of entries.'),
      401: problemResponse('Missing or invalid API key.'),
      422: problemResponse('Invalid request.'),
    },
  }),
}
