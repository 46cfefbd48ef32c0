import { createRoute } from '@hono/zod-openapi'
import { CreatePortalSessionBody, PortalSessionResource, PortalSessionsRevoked } from '../../../schemas/portal'
import { adminErrors, adminSecurity, json, jsonBody, modeQuery, optionalModeQuery, partnerParams } from '../../describe'

const security = adminSecurity
const tags = ['Admin']

export const routes = {
  create: createRoute({
    operationId: 'createPortalSession',
    method: 'post',
    path: '/partners/{partner_id}/portal-sessions',
    tags,
    security,
    summary: "Mint a login link to the partner's portal",
    description:
      'The link is single-use and short-lived; opening it starts an 8-hour browser session that sees this partner in this mode only.',
    request: { params: partnerParams, query: modeQuery, ...jsonBody(CreatePortalSessionBody, false) },
    responses: { 201: json(PortalSessionResource, 'The link, shown once.'), ...adminErrors },
  }),
  revoke: createRoute({
    operationId: 'revokePortalSessions',
    method: 'delete',
    path: '/partners/{partner_id}/portal-sessions',
    tags,
    security,
    summary: 'End every portal session and unused link of the partner (in one mode, or both)',
    request: { params: partnerParams, query: optionalModeQuery },
    responses: { 200: json(PortalSessionsRevoked, 'How many were ended.'), ...adminErrors },
  }),
}
