import { createRouter } from '../../router'
import * as handlers from './portal-sessions.handlers'
import { routes } from './portal-sessions.routes'

export const portalSessionsAdminRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.revoke, handlers.revoke)
