import { createRoute, z } from '@hono/zod-openapi'
import { createEndpoint, deleteEndpoint, endpointExists, getEndpoint, listEndpoints, rotateSecret, updateEndpoint } from '../callbacks/endpoints'
import { recoverEndpoint } from '../callbacks/redelivery'
import { checkWebhookUrl, urlPolicyOf } from '../callbacks/url-policy'
import type { Settings } from '../lib/settings'
import { partnerAuth } from '../middleware/auth'
import { pageAfterKnownCursor } from './cursor'
import { rateLimit } from '../middleware/rate-limit'
import { fieldProblem } from '../lib/problem'
import { createRouter } from './router'
import {
  CreateEndpointBody,
  DeletedEndpoint,
  EndpointList,
  EndpointResource,
  EndpointWithSecret,
  RecoverBody,
  RecoveryResult,
  RotateSecretBody,
  UpdateEndpointBody,
  renderEndpoint,
} from '../schemas/callbacks'
import { ListQuery, problemResponse } from '../schemas/common'
import { json, jsonBody, partnerSecurity } from './describe'

const security = partnerSecurity
const tags = ['Webhook endpoints']
const body = jsonBody
const params = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'we_01jdq1m3v0k6y8x9w2z4c5b7n8' }) })
const errors = {
  401: problemResponse('Missing or invalid API key.'),
  404: problemResponse('No such endpoint (`webhook_endpoint_not_found`).'),
  422: problemResponse('Invalid request, e.g. a refused URL (`invalid_request`).'),
}

/** The URL rules partners hear about as a field error. */
const allowedUrl = (settings: Settings, url: string) => {
  const check = checkWebhookUrl(url, urlPolicyOf(settings))
  if (!check.ok) {
    throw fieldProblem('url', { code: 'url_not_allowed', message: check.message }, `url ${check.message}.`)
  }
  return check.url
}

const routes = {
  create: createRoute({
  operationId: 'createWebhookEndpoint',
    method: 'post', path: '/', tags, security, summary: 'Register a receiver',
    description: 'https only; no credentials in the URL; no loopback, private, link-local, CGNAT or metadata hosts (unless the deployment allows them). The signing secret is shown once.',
    request: body(CreateEndpointBody),
    responses: { 201: json(EndpointWithSecret, 'Registered; keep the secret.'), ...errors },
  }),
  list: createRoute({
  operationId: 'listWebhookEndpoints',
    method: 'get', path: '/', tags, security, summary: 'List receivers',
    request: { query: ListQuery },
    responses: { 200: json(EndpointList, 'A page of endpoints.'), ...errors },
  }),
  get: createRoute({
  operationId: 'getWebhookEndpoint',
    method: 'get', path: '/{id}', tags, security, summary: 'Retrieve a receiver',
    request: { params },
    responses: { 200: json(EndpointResource, 'The endpoint (never its secret).'), ...errors },
  }),
  update: createRoute({
  operationId: 'updateWebhookEndpoint',
    method: 'patch', path: '/{id}', tags, security, summary: 'Change url, event types, description, or enable/disable',
    request: { params, ...body(UpdateEndpointBody) },
    responses: { 200: json(EndpointResource, 'Updated.'), ...errors },
  }),
  remove: createRoute({
  operationId: 'deleteWebhookEndpoint',
    method: 'delete', path: '/{id}', tags, security, summary: 'Remove a receiver',
    request: { params },
    responses: { 200: json(DeletedEndpoint, 'Removed; nothing more is sent to it.'), ...errors },
  }),
  rotate: createRoute({
  operationId: 'rotateWebhookSecret',
    method: 'post', path: '/{id}/rotate-secret', tags, security, summary: 'Rotate the signing secret',
    description: 'For the grace period (24 h by default) every callback carries signatures from both the old and the new secret.',
    request: { params, ...body(RotateSecretBody, false) },
    responses: { 200: json(EndpointWithSecret, 'The new secret, shown once.'), ...errors, 409: problemResponse('Rotated concurrently; retry.') },
  }),
  recover: createRoute({
  operationId: 'recoverWebhookEndpoint',
    method: 'post', path: '/{id}/recover', tags, security, summary: 'Redeliver everything that failed since a time',
    request: { params, ...body(RecoverBody) },
    responses: { 202: json(RecoveryResult, 'Queued.'), ...errors, 409: problemResponse('The endpoint is disabled (`webhook_endpoint_disabled`).') },
  }),
}

const router = createRouter()
router.use(partnerAuth, rateLimit)

export const webhookEndpointsRouter = router
  .openapi(routes.create, async (c) => {
    const { db, settings, now } = c.var.services
    const input = c.req.valid('json')
    const url = allowedUrl(settings, input.url)
    const { endpoint, secret } = await createEndpoint(db, settings.ENCRYPTION_KEY, c.var.partner.id, { ...input, url }, now())
    return c.json({ ...renderEndpoint(endpoint), secret }, 201)
  })
  .openapi(routes.list, async (c) => {
    const { limit, starting_after } = c.req.valid('query')
    const { db } = c.var.services
    const partnerId = c.var.partner.id
    const { rows, hasMore } = await pageAfterKnownCursor(starting_after, (id) => endpointExists(db, partnerId, id), 'webhook endpoint', () =>
      listEndpoints(db, partnerId, limit, starting_after),
    )
    return c.json({ object: 'list' as const, data: rows.map((e) => renderEndpoint(e)), has_more: hasMore }, 200)
  })
  .openapi(routes.get, async (c) => {
    return c.json(renderEndpoint(await getEndpoint(c.var.services.db, c.var.partner.id, c.req.valid('param').id)), 200)
  })
  .openapi(routes.update, async (c) => {
    const { db, settings, now } = c.var.services
    const input = c.req.valid('json')
    const url = input.url === undefined ? undefined : allowedUrl(settings, input.url)
    const row = await updateEndpoint(db, c.var.partner.id, c.req.valid('param').id, { ...input, url }, now())
    return c.json(renderEndpoint(row), 200)
  })
  .openapi(routes.remove, async (c) => {
    const row = await deleteEndpoint(c.var.services.db, c.var.partner.id, c.req.valid('param').id, c.var.services.now())
    return c.json({ object: 'webhook_endpoint' as const, id: row.id, deleted: true as const }, 200)
  })
  .openapi(routes.rotate, async (c) => {
    const { db, settings, now } = c.var.services
    const grace = c.req.valid('json').grace_seconds ?? settings.WEBHOOK_SECRET_GRACE_SECONDS
    const { endpoint, secret } = await rotateSecret(db, settings.ENCRYPTION_KEY, c.var.partner.id, c.req.valid('param').id, grace, now())
    return c.json({ ...renderEndpoint(endpoint), secret }, 200)
  })
  .openapi(routes.recover, async (c) => {
    const id = c.req.valid('param').id
    const recovered = await recoverEndpoint(c.var.services, c.var.partner.id, id, Date.parse(c.req.valid('json').since))
    return c.json({ object: 'recovery' as const, endpoint_id: id, deliveries_requeued: recovered.requeued, has_more: recovered.hasMore }, 202)
  })
