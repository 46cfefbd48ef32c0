import { createRouter } from '../../router'
import * as handlers from './audit-log.handlers'
import { routes } from './audit-log.routes'

export const auditLogAdminRouter = createRouter().openapi(routes.list, handlers.list)
