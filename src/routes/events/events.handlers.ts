import { getEventWithDeliveries, listEvents } from '../../callbacks/event-history'
import { redeliverEvent } from '../../callbacks/redelivery'
import { isIdOf } from '../../lib/ids'
import { renderDelivery, renderEvent } from '../../schemas/callbacks'
import { pageAfterKnownCursor } from '../cursor'
import type { AppRouteHandler } from '../router'
import type { routes } from './events.routes'

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { limit, starting_after, type, transfer_id } = c.req.valid('query')
  const { db } = c.get('services')
  const owner = c.get('partner')
  // Any well-formed event id is a place in time: pruned events (retention) stay usable as cursors.
  const page = await pageAfterKnownCursor(
    starting_after,
    async (id) => isIdOf('evt', id),
    'event',
    () => listEvents(db, owner, { limit, startingAfter: starting_after, type, transferId: transfer_id }),
  )
  return c.json({ object: 'list' as const, data: page.rows.map(renderEvent), has_more: page.hasMore }, 200)
}

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  const { event, deliveries } = await getEventWithDeliveries(
    c.get('services').db,
    c.get('partner'),
    c.req.valid('param').id,
  )
  return c.json({ ...renderEvent(event), deliveries: deliveries.map(renderDelivery) }, 200)
}

export const redeliver: AppRouteHandler<typeof routes.redeliver> = async (c) => {
  const id = c.req.valid('param').id
  const rows = await redeliverEvent(c.get('services'), c.get('partner'), id, c.req.valid('json').endpoint_id)
  return c.json(
    {
      object: 'redelivery' as const,
      event_id: id,
      deliveries: rows.map((r) => ({ id: r.id, endpoint_id: r.endpointId, state: r.state })),
    },
    202,
  )
}
