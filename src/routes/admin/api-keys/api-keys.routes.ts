import { createRoute, z } from '@hono/zod-openapi'
import { ApiKeyList, ApiKeyResource, CreateApiKeyBody, CreatedApiKey } from '../../../schemas/partners'
import { adminErrors, adminSecurity, json, jsonBody, partnerParams } from '../../describe'

const security = adminSecurity
const tags = ['Admin']

export const routes = {
  create: createRoute({
    operationId: 'createApiKey',
    method: 'post',
    path: '/partners/{partner_id}/api-keys',
    tags,
    security,
    summary: 'Issue an API key (shown once)',
    request: { params: partnerParams, ...jsonBody(CreateApiKeyBody) },
    responses: { 201: json(CreatedApiKey, 'The key, in full, this once.'), ...adminErrors },
  }),
  list: createRoute({
    operationId: 'listApiKeys',
    method: 'get',
    path: '/partners/{partner_id}/api-keys',
    tags,
    security,
    summary: "List a partner's API keys",
    request: { params: partnerParams },
    responses: { 200: json(ApiKeyList, 'Keys, without their secrets.'), ...adminErrors },
  }),
  revoke: createRoute({
    operationId: 'revokeApiKey',
    method: 'delete',
    path: '/partners/{partner_id}/api-keys/{key_id}',
    tags,
    security,
    summary: 'Revoke an API key',
    description: 'Takes effect within API_KEY_CACHE_SECONDS everywhere.',
    request: {
      params: partnerParams.extend({ key_id: z.string().openapi({ param: { name: 'key_id', in: 'path' } }) }),
    },
    responses: { 200: json(ApiKeyResource, 'Revoked.'), ...adminErrors },
  }),
}
