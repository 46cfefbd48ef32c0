import { createRoute } from '@hono/zod-openapi'
import { problemResponse } from '../../schemas/common'
import { CreatePortalSessionBody, PortalSessionResource } from '../../schemas/portal'
import { json, jsonBody, partnerSecurity } from '../describe'

export const create = createRoute({
  operationId: 'createOwnPortalSession',
  method: 'post',
  path: '/',
  tags: ['Portal'],
  summary: 'Mint a login link to your own portal',
  description:
    "From your backend, to open the portal from your own dashboard: the link sees your key's mode only, is single-use and expires in minutes.",
  security: partnerSecurity,
  request: jsonBody(CreatePortalSessionBody, false),
  responses: {
    201: json(PortalSessionResource, 'The link, shown once.'),
    401: problemResponse('Missing, unknown, revoked or expired API key (`unauthorized`).'),
    422: problemResponse('Invalid request (`invalid_request`).'),
  },
})
