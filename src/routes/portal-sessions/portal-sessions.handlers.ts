import { mintPortalSession } from '../../partners/portal-sessions'
import { renderPortalSession } from '../../schemas/portal'
import type { AppRouteHandler } from '../router'
import type * as routes from './portal-sessions.routes'

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const { db, settings, now } = c.get('services')
  const { row, token } = await mintPortalSession(
    db,
    settings.API_KEY_SECRET,
    c.get('partner'),
    c.req.valid('json') ?? {},
    now(),
  )
  c.get('audit').about({ objectId: row.id })
  return c.json(renderPortalSession(row, new URL(c.req.url).origin, token), 201)
}
