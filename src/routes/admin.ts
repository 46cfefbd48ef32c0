import { createRoute, z } from '@hono/zod-openapi'
import { adminAuth } from '../middleware/auth'
import type { Settings } from '../lib/settings'
import { pageAfterKnownCursor } from './cursor'
import { fieldProblem, Problem } from '../lib/problem'
import { createRouter } from './router'
import {
  createPartner,
  getPartner,
  issueApiKey,
  listApiKeys,
  listPartners,
  partnerExists,
  revokeApiKey,
  updatePartner,
} from '../partners/partners'
import { checkQiKeys } from '../providers/qi/keys'
import { deleteConnection, listConnections, upsertConnection } from '../partners/connections'
import {
  ApiKeyList,
  ApiKeyResource,
  ConnectionList,
  ConnectionResource,
  CreateApiKeyBody,
  CreatedApiKey,
  CreatePartnerBody,
  PartnerList,
  PartnerListQuery,
  PartnerResource,
  QiConnectionBody,
  SfoxConnectionBody,
  UpdatePartnerBody,
  renderApiKey,
  renderConnection,
  renderPartner,
} from '../schemas/partners'
import { problemResponse } from '../schemas/common'
import { adminSecurity, json, jsonBody } from './describe'

const security = adminSecurity
const tags = ['Admin']
const common = {
  401: problemResponse('Missing or wrong admin token.'),
  404: problemResponse('No such partner (`partner_not_found`).'),
  422: problemResponse('Invalid request.'),
}
// Credentials go to this URL: in production only over TLS (local sandboxes are plain http).
const assertProviderUrl = (settings: Settings, url: string) => {
  if (settings.ENVIRONMENT === 'production' && new URL(url).protocol !== 'https:') {
    throw fieldProblem('base_url', { code: 'https_required', message: 'must use https' }, 'Provider credentials are only sent over https in production.')
  }
}

const partnerParams = z.object({ partner_id: z.string().openapi({ param: { name: 'partner_id', in: 'path' } }) })

const routes = {
  createPartner: createRoute({
    operationId: 'createPartner',
    method: 'post', path: '/partners', tags, security, summary: 'Create a partner',
    request: jsonBody(CreatePartnerBody),
    responses: { 201: json(PartnerResource, 'Created.'), ...common },
  }),
  listPartners: createRoute({
    operationId: 'listPartners',
    method: 'get', path: '/partners', tags, security, summary: 'List partners',
    request: { query: PartnerListQuery },
    responses: { 200: json(PartnerList, 'A page of partners.'), ...common },
  }),
  getPartner: createRoute({
    operationId: 'getPartner',
    method: 'get', path: '/partners/{partner_id}', tags, security, summary: 'Retrieve a partner',
    request: { params: partnerParams },
    responses: { 200: json(PartnerResource, 'The partner.'), ...common },
  }),
  updatePartner: createRoute({
    operationId: 'updatePartner',
    method: 'patch', path: '/partners/{partner_id}', tags, security, summary: "Update a partner's name or limits",
    request: { params: partnerParams, ...jsonBody(UpdatePartnerBody) },
    responses: { 200: json(PartnerResource, 'Updated.'), ...common },
  }),
  issueKey: createRoute({
    operationId: 'createApiKey',
    method: 'post', path: '/partners/{partner_id}/api-keys', tags, security, summary: 'Issue an API key (shown once)',
    request: { params: partnerParams, ...jsonBody(CreateApiKeyBody) },
    responses: { 201: json(CreatedApiKey, 'The key, in full, this once.'), ...common },
  }),
  listKeys: createRoute({
    operationId: 'listApiKeys',
    method: 'get', path: '/partners/{partner_id}/api-keys', tags, security, summary: "List a partner's API keys",
    request: { params: partnerParams },
    responses: { 200: json(ApiKeyList, 'Keys, without their secrets.'), ...common },
  }),
  revokeKey: createRoute({
    operationId: 'revokeApiKey',
    method: 'delete', path: '/partners/{partner_id}/api-keys/{key_id}', tags, security, summary: 'Revoke an API key',
    description: 'Takes effect within API_KEY_CACHE_SECONDS everywhere.',
    request: { params: partnerParams.extend({ key_id: z.string().openapi({ param: { name: 'key_id', in: 'path' } }) }) },
    responses: { 200: json(ApiKeyResource, 'Revoked.'), ...common },
  }),
  putSfox: createRoute({
    operationId: 'setSfoxConnection',
    method: 'put', path: '/partners/{partner_id}/connections/sfox', tags, security, summary: "Set the partner's sFOX connection",
    request: { params: partnerParams, ...jsonBody(SfoxConnectionBody) },
    responses: { 200: json(ConnectionResource, 'Stored; credentials encrypted.'), ...common },
  }),
  putQi: createRoute({
    operationId: 'setQiConnection',
    method: 'put', path: '/partners/{partner_id}/connections/qi', tags, security, summary: "Set the partner's QI Tech connection",
    description: 'Both keys are checked (P-521, ES512) before anything is stored; credentials are encrypted.',
    request: { params: partnerParams, ...jsonBody(QiConnectionBody) },
    responses: { 200: json(ConnectionResource, 'Stored; credentials encrypted.'), ...common },
  }),
  listConnections: createRoute({
    operationId: 'listConnections',
    method: 'get', path: '/partners/{partner_id}/connections', tags, security, summary: "List a partner's provider connections",
    request: { params: partnerParams },
    responses: { 200: json(ConnectionList, 'Connections, without credentials.'), ...common },
  }),
  deleteConnection: createRoute({
    operationId: 'deleteConnection',
    method: 'delete', path: '/partners/{partner_id}/connections/{provider}', tags, security, summary: 'Remove a provider connection',
    request: { params: partnerParams.extend({ provider: z.enum(['sfox', 'qi']).openapi({ param: { name: 'provider', in: 'path' } }) }) },
    responses: { 204: { description: 'Removed.' }, ...common },
  }),
}

const router = createRouter()
router.use(adminAuth)

export const adminRouter = router
  .openapi(routes.createPartner, async (c) => {
    const row = await createPartner(c.var.services.db, c.req.valid('json'), c.var.services.now())
    return c.json(renderPartner(row), 201)
  })
  .openapi(routes.listPartners, async (c) => {
    const { limit, starting_after } = c.req.valid('query')
    const { db } = c.var.services
    const { rows, hasMore } = await pageAfterKnownCursor(starting_after, (id) => partnerExists(db, id), 'partner', () => listPartners(db, limit, starting_after))
    return c.json({ object: 'list' as const, data: rows.map(renderPartner), has_more: hasMore }, 200)
  })
  .openapi(routes.getPartner, async (c) => {
    return c.json(renderPartner(await getPartner(c.var.services.db, c.req.valid('param').partner_id)), 200)
  })
  .openapi(routes.updatePartner, async (c) => {
    const row = await updatePartner(c.var.services.db, c.req.valid('param').partner_id, c.req.valid('json'), c.var.services.now())
    return c.json(renderPartner(row), 200)
  })
  .openapi(routes.issueKey, async (c) => {
    const { db, settings, now } = c.var.services
    const input = c.req.valid('json')
    if (input.expires_at && Date.parse(input.expires_at) <= now()) {
      throw fieldProblem('expires_at', { code: 'in_the_past', message: 'must be in the future' }, 'A key that expires in the past would never work.')
    }
    const { row, key } = await issueApiKey(db, settings.API_KEY_SECRET, c.req.valid('param').partner_id, input, now())
    return c.json({ ...renderApiKey(row), key }, 201)
  })
  .openapi(routes.listKeys, async (c) => {
    const rows = await listApiKeys(c.var.services.db, c.req.valid('param').partner_id)
    return c.json({ object: 'list' as const, data: rows.map(renderApiKey), has_more: false }, 200)
  })
  .openapi(routes.revokeKey, async (c) => {
    const { partner_id, key_id } = c.req.valid('param')
    return c.json(renderApiKey(await revokeApiKey(c.var.services.db, partner_id, key_id, c.var.services.now())), 200)
  })
  .openapi(routes.putSfox, async (c) => {
    const { db, settings, now } = c.var.services
    const partnerId = c.req.valid('param').partner_id
    const input = c.req.valid('json')
    assertProviderUrl(settings, input.base_url)
    await getPartner(db, partnerId)
    const row = await upsertConnection(db, settings.ENCRYPTION_KEY, partnerId, {
      provider: 'sfox',
      baseUrl: input.base_url,
      credentials: { api_key: input.api_key },
    }, now())
    return c.json(renderConnection(row), 200)
  })
  .openapi(routes.putQi, async (c) => {
    const { db, settings, now } = c.var.services
    const partnerId = c.req.valid('param').partner_id
    const input = c.req.valid('json')
    assertProviderUrl(settings, input.base_url)
    await getPartner(db, partnerId)
    const keys = await checkQiKeys(input.private_key_pem, input.qi_public_key_pem)
    if (!keys.ok) {
      throw new Problem('invalid_request', {
        detail: `The keys are not usable: ${keys.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
        extensions: { errors: keys.errors.map((e) => ({ ...e, pointer: `/${e.field}`, code: 'invalid_key' })) },
      })
    }
    const row = await upsertConnection(db, settings.ENCRYPTION_KEY, partnerId, {
      provider: 'qi',
      baseUrl: input.base_url,
      credentials: {
        api_client_key: input.api_client_key,
        private_key_pem: keys.privateKeyPem,
        qi_public_key_pem: input.qi_public_key_pem,
      },
      settings: { account_keys: input.account_keys },
    }, now())
    return c.json(renderConnection(row), 200)
  })
  .openapi(routes.listConnections, async (c) => {
    const partnerId = c.req.valid('param').partner_id
    await getPartner(c.var.services.db, partnerId)
    const rows = await listConnections(c.var.services.db, partnerId)
    return c.json({ object: 'list' as const, data: rows.map(renderConnection), has_more: false }, 200)
  })
  .openapi(routes.deleteConnection, async (c) => {
    const { partner_id, provider } = c.req.valid('param')
    if (!(await deleteConnection(c.var.services.db, partner_id, provider))) {
      throw new Problem('connection_not_found', { detail: `Partner "${partner_id}" has no ${provider} connection.` })
    }
    return c.body(null, 204)
  })
