import { partnerAuth } from '../../middleware/auth'
import { rateLimit } from '../../middleware/rate-limit'
import { createRouter } from '../router'
import * as handlers from './webhook-endpoints.handlers'
import { routes } from './webhook-endpoints.routes'

const router = createRouter()
router.use(partnerAuth, rateLimit)

export const webhookEndpointsRouter = router
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.update, handlers.update)
  .openapi(routes.remove, handlers.remove)
  .openapi(routes.rotate, handlers.rotate)
  .openapi(routes.recover, handlers.recover)
  .openapi(routes.test, handlers.test)
