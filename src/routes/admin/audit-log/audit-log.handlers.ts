import { listAudit } from '../../../audit/audit-log'
import { auditQueryOf } from '../../../schemas/audit'
import { auditPage } from '../../audit-log/audit-log.handlers'
import type { AppRouteHandler } from '../../router'
import type { routes } from './audit-log.routes'

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const query = c.req.valid('query')
  return auditPage(c, query.starting_after, () =>
    listAudit(c.get('services').db, { ...auditQueryOf(query), partnerId: query.partner_id }),
  )
}
