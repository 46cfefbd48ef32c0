import { mintPortalSession, revokePortalSessions } from '../../../partners/portal-sessions'
import { renderPortalSession } from '../../../schemas/portal'
import type { AppRouteHandler } from '../../router'
import type { routes } from './portal-sessions.routes'

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const { db, settings, now } = c.get('services')
  const owner = { id: c.req.valid('param').partner_id, mode: c.req.valid('query').mode }
  const { row, token } = await mintPortalSession(db, settings.API_KEY_SECRET, owner, c.req.valid('json') ?? {}, now())
  c.get('audit').about({ objectId: row.id, mode: owner.mode })
  return c.json(renderPortalSession(row, new URL(c.req.url).origin, token), 201)
}

export const revoke: AppRouteHandler<typeof routes.revoke> = async (c) => {
  const { db, now } = c.get('services')
  const revoked = await revokePortalSessions(db, c.req.valid('param').partner_id, c.req.valid('query').mode, now())
  return c.json({ object: 'portal_session_revocation' as const, revoked }, 200)
}
