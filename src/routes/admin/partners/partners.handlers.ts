import { createPartner, getPartner, listPartners, partnerExists, updatePartner } from '../../../partners/partners'
import { renderPartner } from '../../../schemas/partners'
import { pageAfterKnownCursor } from '../../cursor'
import type { AppRouteHandler } from '../../router'
import type { routes } from './partners.routes'

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const { db, now } = c.get('services')
  const row = await createPartner(db, c.req.valid('json'), now())
  c.get('audit').about({ objectId: row.id, partnerId: row.id })
  return c.json(renderPartner(row), 201)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { limit, starting_after } = c.req.valid('query')
  const { db } = c.get('services')
  const { rows, hasMore } = await pageAfterKnownCursor(
    starting_after,
    (id) => partnerExists(db, id),
    'partner',
    () => listPartners(db, limit, starting_after),
  )
  return c.json({ object: 'list' as const, data: rows.map(renderPartner), has_more: hasMore }, 200)
}

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  return c.json(renderPartner(await getPartner(c.get('services').db, c.req.valid('param').partner_id)), 200)
}

export const update: AppRouteHandler<typeof routes.update> = async (c) => {
  const row = await updatePartner(
    c.get('services').db,
    c.req.valid('param').partner_id,
    c.req.valid('json'),
    c.get('services').now(),
  )
  return c.json(renderPartner(row), 200)
}
