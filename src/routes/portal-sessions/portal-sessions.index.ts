import { partnerAuth } from '../../middleware/auth'
import { rateLimit } from '../../middleware/rate-limit'
import { createRouter } from '../router'
import * as handlers from './portal-sessions.handlers'
import * as routes from './portal-sessions.routes'

const router = createRouter()
router.use(partnerAuth, rateLimit)

export const portalSessionsRouter = router.openapi(routes.create, handlers.create)
