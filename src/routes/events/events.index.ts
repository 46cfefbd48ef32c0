import { partnerAuth } from '../../middleware/auth'
import { rateLimit } from '../../middleware/rate-limit'
import { createRouter } from '../router'
import * as handlers from './events.handlers'
import { routes } from './events.routes'

const router = createRouter()
router.use(partnerAuth, rateLimit)

export const eventsRouter = router
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.redeliver, handlers.redeliver)
