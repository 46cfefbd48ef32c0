import type { Context } from 'hono'
import { listPartnerAudit } from '../../audit/audit-log'
import { isIdOf } from '../../lib/ids'
import { auditQueryOf, renderAuditEntry } from '../../schemas/audit'
import { pageAfterKnownCursor } from '../cursor'
import type { AppRouteHandler } from '../router'
import type { routes } from './audit-log.routes'

/**
 * A page of audit entries as the API answers it (the partner's and the operator's lists alike). Any
 * well-formed entry id is a place in time: pruned entries (retention) stay usable as cursors.
 */
export const auditPage = async (
  c: Context,
  startingAfter: string | undefined,
  read: () => ReturnType<typeof listPartnerAudit>,
) => {
  const page = await pageAfterKnownCursor(startingAfter, async (id) => isIdOf('aud', id), 'audit entry', read)
  return c.json({ object: 'list' as const, data: page.rows.map(renderAuditEntry), has_more: page.hasMore }, 200)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const query = c.req.valid('query')
  return auditPage(c, query.starting_after, () =>
    listPartnerAudit(c.get('services').db, c.get('partner'), auditQueryOf(query)),
  )
}
