import { createRouter } from '../../router'
import * as handlers from './health.handlers'
import { routes } from './health.routes'

export const adminHealthRouter = createRouter().openapi(routes.health, handlers.health)
