import { listPartnerAudit } from '../../audit/audit-log'
import { isIdOf } from '../../lib/ids'
import { auditQueryOf, renderAuditEntry } from '../../schemas/audit'
import { pageAfterKnownCursor } from '../cursor'
import type { AppRouteHandler } from '../router'
import type { routes } from './audit-log.routes'

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const query = c.req.valid('query')
  // Any well-formed entry id is a place in time: pruned entries (retention) stay usable as cursors.
  const page = await pageAfterKnownCursor(
    query.starting_after,
    async (id) => isIdOf('aud', id),
    'audit entry',
    () => listPartnerAudit(c.var.services.db, c.var.partner, auditQueryOf(query)),
  )
  return c.json({ object: 'list' as const, data: page.rows.map(renderAuditEntry), has_more: page.hasMore }, 200)
}
