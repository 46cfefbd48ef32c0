import { createRoute, z } from '@hono/zod-openapi'
import {
  EventList,
  EventWithDeliveries,
  ListEventsQuery,
  RedeliverBody,
  RedeliveryResult,
} from '../../schemas/callbacks'
import { problemResponse } from '../../schemas/common'
import { json, jsonBody, partnerSecurity } from '../describe'

const security = partnerSecurity
const tags = ['Events']
const params = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) })
const errors = {
  401: problemResponse('Missing or invalid API key.'),
  404: problemResponse('No such event (`event_not_found`).'),
  422: problemResponse('Invalid request.'),
}

export const routes = {
  list: createRoute({
    operationId: 'listEvents',
    method: 'get',
    path: '/',
    tags,
    security,
    summary: 'List events, newest first',
    request: { query: ListEventsQuery },
    responses: { 200: json(EventList, 'A page of events.'), ...errors },
  }),
  get: createRoute({
    operationId: 'getEvent',
    method: 'get',
    path: '/{id}',
    tags,
    security,
    summary: 'Retrieve an event with its delivery attempts',
    request: { params },
    responses: { 200: json(EventWithDeliveries, 'The event and, per endpoint, every attempt.'), ...errors },
  }),
  redeliver: createRoute({
    operationId: 'redeliverEvent',
    method: 'post',
    path: '/{id}/redeliver',
    tags,
    security,
    summary: 'Send an event again',
    request: { params, ...jsonBody(RedeliverBody, false) },
    responses: { 202: json(RedeliveryResult, 'Queued.'), ...errors, 409: problemResponse('The endpoint is disabled.') },
  }),
}
