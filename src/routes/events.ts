import { createRoute, z } from '@hono/zod-openapi'
import { getEventWithDeliveries, listEvents } from '../callbacks/event-history'
import { redeliverEvent } from '../callbacks/redelivery'
import { partnerAuth } from '../middleware/auth'
import { rateLimit } from '../middleware/rate-limit'
import { pageAfterKnownCursor } from './cursor'
import { isIdOf } from '../lib/ids'
import { createRouter } from './router'
import { EventList, EventWithDeliveries, ListEventsQuery, RedeliverBody, RedeliveryResult, renderDelivery, renderEvent } from '../schemas/callbacks'
import { problemResponse } from '../schemas/common'
import { json, jsonBody, partnerSecurity } from './describe'

const security = partnerSecurity
const tags = ['Events']
const params = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) })
const errors = { 401: problemResponse('Missing or invalid API key.'), 404: problemResponse('No such event (`event_not_found`).'), 422: problemResponse('Invalid request.') }

const routes = {
  list: createRoute({
    operationId: 'listEvents',
    method: 'get', path: '/', tags, security, summary: 'List events, newest first',
    request: { query: ListEventsQuery },
    responses: { 200: json(EventList, 'A page of events.'), ...errors },
  }),
  get: createRoute({
    operationId: 'getEvent',
    method: 'get', path: '/{id}', tags, security, summary: 'Retrieve an event with its delivery attempts',
    request: { params },
    responses: { 200: json(EventWithDeliveries, 'The event and, per endpoint, every attempt.'), ...errors },
  }),
  redeliver: createRoute({
    operationId: 'redeliverEvent',
    method: 'post', path: '/{id}/redeliver', tags, security, summary: 'Send an event again',
    request: { params, ...jsonBody(RedeliverBody, false) },
    responses: { 202: json(RedeliveryResult, 'Queued.'), ...errors, 409: problemResponse('The endpoint is disabled.') },
  }),
}

const router = createRouter()
router.use(partnerAuth, rateLimit)

export const eventsRouter = router
  .openapi(routes.list, async (c) => {
    const { limit, starting_after, type, transfer_id } = c.req.valid('query')
    const { db } = c.var.services
    const partnerId = c.var.partner.id
    // Any well-formed event id is a place in time: pruned events (retention) stay usable as cursors.
    const page = await pageAfterKnownCursor(starting_after, async (id) => isIdOf('evt', id), 'event', () =>
      listEvents(db, partnerId, { limit, startingAfter: starting_after, type, transferId: transfer_id }),
    )
    return c.json({ object: 'list' as const, data: page.rows.map(renderEvent), has_more: page.hasMore }, 200)
  })
  .openapi(routes.get, async (c) => {
    const { event, deliveries } = await getEventWithDeliveries(c.var.services.db, c.var.partner.id, c.req.valid('param').id)
    return c.json({ ...renderEvent(event), deliveries: deliveries.map(renderDelivery) }, 200)
  })
  .openapi(routes.redeliver, async (c) => {
    const id = c.req.valid('param').id
    const rows = await redeliverEvent(c.var.services, c.var.partner.id, id, c.req.valid('json').endpoint_id)
    return c.json({ object: 'redelivery' as const, event_id: id, deliveries: rows.map((r) => ({ id: r.id, endpoint_id: r.endpointId, state: r.state })) }, 202)
  })
