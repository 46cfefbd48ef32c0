import { partnerAuth } from '../../middleware/auth'
import { rateLimit } from '../../middleware/rate-limit'
import { createRouter } from '../router'
import * as handlers from './transfers.handlers'
import * as routes from './transfers.routes'

const router = createRouter()
router.use(partnerAuth, rateLimit)

export const transfersRouter = router
  .openapi(routes.create, handlers.create)
  .openapi(routes.list, handlers.list)
  .openapi(routes.get, handlers.get)
  .openapi(routes.confirm, handlers.confirm)
  .openapi(routes.resend, handlers.resend)
  .openapi(routes.cancel, handlers.cancel)
