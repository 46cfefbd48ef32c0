import { createRoute, z } from '@hono/zod-openapi'
import {
  CreateEndpointBody,
  DeletedEndpoint,
  EndpointList,
  EndpointResource,
  EndpointWithSecret,
  EventWithDeliveries,
  RecoverBody,
  RecoveryResult,
  RotateSecretBody,
  UpdateEndpointBody,
} from '../../schemas/callbacks'
import { ListQuery, problemResponse } from '../../schemas/common'
import { json, jsonBody, partnerSecurity } from '../describe'

const security = partnerSecurity
const tags = ['Webhook endpoints']
const body = jsonBody
const params = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'we_01jdq1m3v0k6y8x9w2z4c5b7n8' }),
})
const errors = {
  401: problemResponse('Missing or invalid API key.'),
  404: problemResponse('No such endpoint (`webhook_endpoint_not_found`).'),
  422: problemResponse('Invalid request, e.g. a refused URL (`invalid_request`).'),
}

export const routes = {
  create: createRoute({
    operationId: 'createWebhookEndpoint',
    method: 'post',
    path: '/',
    tags,
    security,
    summary: 'Register a receiver',
    description:
      'https only; no credentials in the URL; no loopback, private, link-local, CGNAT or metadata hosts (unless the deployment allows them). The signing secret is shown once.',
    request: body(CreateEndpointBody),
    responses: { 201: json(EndpointWithSecret, 'Registered; keep the secret.'), ...errors },
  }),
  list: createRoute({
    operationId: 'listWebhookEndpoints',
    method: 'get',
    path: '/',
    tags,
    security,
    summary: 'List receivers',
    request: { query: ListQuery },
    responses: { 200: json(EndpointList, 'A page of endpoints.'), ...errors },
  }),
  get: createRoute({
    operationId: 'getWebhookEndpoint',
    method: 'get',
    path: '/{id}',
    tags,
    security,
    summary: 'Retrieve a receiver',
    request: { params },
    responses: { 200: json(EndpointResource, 'The endpoint (never its secret).'), ...errors },
  }),
  update: createRoute({
    operationId: 'updateWebhookEndpoint',
    method: 'patch',
    path: '/{id}',
    tags,
    security,
    summary: 'Change url, event types, description, or enable/disable',
    request: { params, ...body(UpdateEndpointBody) },
    responses: { 200: json(EndpointResource, 'Updated.'), ...errors },
  }),
  remove: createRoute({
    operationId: 'deleteWebhookEndpoint',
    method: 'delete',
    path: '/{id}',
    tags,
    security,
    summary: 'Remove a receiver',
    request: { params },
    responses: { 200: json(DeletedEndpoint, 'Removed; nothing more is sent to it.'), ...errors },
  }),
  rotate: createRoute({
    operationId: 'rotateWebhookSecret',
    method: 'post',
    path: '/{id}/rotate-secret',
    tags,
    security,
    summary: 'Rotate the signing secret',
    description:
      'For the grace period (24 h by default) every callback carries signatures from both the old and the new secret.',
    request: { params, ...body(RotateSecretBody, false) },
    responses: {
      200: json(EndpointWithSecret, 'The new secret, shown once.'),
      ...errors,
      409: problemResponse('Rotated concurrently; retry.'),
    },
  }),
  recover: createRoute({
    operationId: 'recoverWebhookEndpoint',
    method: 'post',
    path: '/{id}/recover',
    tags,
    security,
    summary: 'Redeliver everything that failed since a time',
    request: { params, ...body(RecoverBody) },
    responses: {
      202: json(RecoveryResult, 'Queued.'),
      ...errors,
      409: problemResponse('The endpoint is disabled (`webhook_endpoint_disabled`).'),
    },
  }),
  test: createRoute({
    operationId: 'sendWebhookTestEvent',
    method: 'post',
    path: '/{id}/test',
    tags,
    security,
    summary: 'Send a test event',
    description:
      'Makes a `transfer.test` event and sends it to this endpoint only, whatever event types it subscribes to, signed, retried and redeliverable like any event. Its `data.object` is a sample transfer (`id` `tgw_test_transfer`, metadata `{"test": "true"}`, `livemode` of the key) with `previous_status` null; no transfer is made. Answers the event with its one delivery, still pending: follow it at `GET /v1/events/{id}`.',
    request: { params },
    responses: {
      201: json(EventWithDeliveries, 'The test event and its delivery to this endpoint.'),
      ...errors,
      409: problemResponse('The endpoint is disabled (`webhook_endpoint_disabled`): enable it first.'),
    },
  }),
}
