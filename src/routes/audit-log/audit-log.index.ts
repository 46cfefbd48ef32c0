import { partnerAuth } from '../../middleware/auth'
import { rateLimit } from '../../middleware/rate-limit'
import { createRouter } from '../router'
import * as handlers from './audit-log.handlers'
import { routes } from './audit-log.routes'

const router = createRouter()
router.use(partnerAuth, rateLimit)

export const auditLogRouter = router.openapi(routes.list, handlers.list)
