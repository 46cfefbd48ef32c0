import { createRouter } from '../../router'
import * as handlers from './partners.handlers'
import { routes } from './partners.routes'

export const partnersRouter = createRouter()
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
