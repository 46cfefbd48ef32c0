import {
  createEndpoint,
  deleteEndpoint,
  endpointExists,
  getEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from '../../callbacks/endpoints'
import { recoverEndpoint } from '../../callbacks/redelivery'
import { sendTestEvent } from '../../callbacks/test-events'
import { renderDelivery, renderEndpoint, renderEvent } from '../../schemas/callbacks'
import { pageAfterKnownCursor } from '../cursor'
import type { AppRouteHandler } from '../router'
import type { routes } from './webhook-endpoints.routes'

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const { db, settings, now } = c.get('services')
  const input = c.req.valid('json')
  const { endpoint, secret } = await createEndpoint(db, settings, c.get('partner'), input, now())
  c.get('audit').about({ objectId: endpoint.id })
  return c.json({ ...renderEndpoint(endpoint), secret }, 201)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { limit, starting_after } = c.req.valid('query')
  const { db } = c.get('services')
  const owner = c.get('partner')
  const { rows, hasMore } = await pageAfterKnownCursor(
    starting_after,
    (id) => endpointExists(db, owner, id),
    'webhook endpoint',
    () => listEndpoints(db, owner, limit, starting_after),
  )
  return c.json({ object: 'list' as const, data: rows.map((e) => renderEndpoint(e)), has_more: hasMore }, 200)
}

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  return c.json(renderEndpoint(await getEndpoint(c.get('services').db, c.get('partner'), c.req.valid('param').id)), 200)
}

export const update: AppRouteHandler<typeof routes.update> = async (c) => {
  const { db, settings, now } = c.get('services')
  const input = c.req.valid('json')
  const row = await updateEndpoint(db, settings, c.get('partner'), c.req.valid('param').id, input, now())
  return c.json(renderEndpoint(row), 200)
}

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  const row = await deleteEndpoint(
    c.get('services').db,
    c.get('partner'),
    c.req.valid('param').id,
    c.get('services').now(),
  )
  return c.json({ object: 'webhook_endpoint' as const, id: row.id, deleted: true as const }, 200)
}

export const rotate: AppRouteHandler<typeof routes.rotate> = async (c) => {
  const { db, settings, now } = c.get('services')
  const grace = c.req.valid('json').grace_seconds ?? settings.WEBHOOK_SECRET_GRACE_SECONDS
  const { endpoint, secret } = await rotateSecret(
    db,
    settings.ENCRYPTION_KEY,
    c.get('partner'),
    c.req.valid('param').id,
    grace,
    now(),
  )
  return c.json({ ...renderEndpoint(endpoint), secret }, 200)
}

export const recover: AppRouteHandler<typeof routes.recover> = async (c) => {
  const id = c.req.valid('param').id
  const recovered = await recoverEndpoint(
    c.get('services'),
    c.get('partner'),
    id,
    Date.parse(c.req.valid('json').since),
  )
  return c.json(
    {
      object: 'recovery' as const,
      endpoint_id: id,
      deliveries_requeued: recovered.requeued,
      has_more: recovered.hasMore,
    },
    202,
  )
}

export const test: AppRouteHandler<typeof routes.test> = async (c) => {
  const { event, deliveries } = await sendTestEvent(c.get('services'), c.get('partner'), c.req.valid('param').id)
  return c.json({ ...renderEvent(event), deliveries: deliveries.map(renderDelivery) }, 201)
}
