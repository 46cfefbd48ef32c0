import { createRouter } from '../../router'
import * as handlers from './api-keys.handlers'
import { routes } from './api-keys.routes'

export const apiKeysRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.revoke, handlers.revoke)
  .openapi(routes.roll, handlers.roll)
