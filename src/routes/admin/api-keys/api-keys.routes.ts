import { createRoute, z } from '@hono/zod-openapi'
import { problemResponse } from '../../../schemas/common'
import {
  ApiKeyList,
  ApiKeyResource,
  CreateApiKeyBody,
  CreatedApiKey,
  RollApiKeyBody,
  RolledApiKey,
} from '../../../schemas/partners'
import { adminErrors, adminSecurity, json, jsonBody, partnerParams } from '../../describe'

const security = adminSecurity
const tags = ['Admin']
const keyParams = partnerParams.extend({ key_id: z.string().openapi({ param: { name: 'key_id', in: 'path' } }) })
const keyErrors = {
  ...adminErrors,
  404: problemResponse('No such key of this partner (`api_key_not_found`).'),
}

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
    request: { params: keyParams },
    responses: { 200: json(ApiKeyResource, 'Revoked.'), ...keyErrors },
  }),
  roll: createRoute({
    operationId: 'rollApiKey',
    method: 'post',
    path: '/partners/{partner_id}/api-keys/{key_id}/roll',
    tags,
    security,
    summary: 'Roll an API key: a new key now, the old one expiring after a grace period',
    description:
      'Issues a new key of the same mode (shown once, without expiry) and makes the old one expire after `expires_in_seconds` (24 h by default; 0 stops it at once, within API_KEY_CACHE_SECONDS), never later than it already would. `previous_key` is the old key as it now stands.',
    request: { params: keyParams, ...jsonBody(RollApiKeyBody, false) },
    responses: {
      201: json(RolledApiKey, 'The new key, in full, this once; and the old key with its new expiry.'),
      ...keyErrors,
      409: problemResponse('The key is revoked or expired (`api_key_inactive`).'),
    },
  }),
}
