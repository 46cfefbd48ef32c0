import { createRouter } from '../../router'
import * as handlers from './connections.handlers'
import { routes } from './connections.routes'

export const connectionsRouter = createRouter()
  .openapi(routes.putSfox, handlers.putSfox)
  .openapi(routes.putQi, handlers.putQi)
  .openapi(routes.list, handlers.list)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.check, handlers.check)
