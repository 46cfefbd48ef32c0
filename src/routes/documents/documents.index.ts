import { partnerAuth } from '../../middleware/auth'
import { rateLimit } from '../../middleware/rate-limit'
import { createRouter } from '../router'
import * as handlers from './documents.handlers'
import * as routes from './documents.routes'

const router = createRouter()
router.use(partnerAuth, rateLimit)

// The upload route is documented in the OpenAPI registry but validated by hand: a validator would
// buffer the whole multipart body a second time.
router.openAPIRegistry.registerPath(routes.upload)
router.post('/users/:user_id/documents', handlers.upload)

export const documentsRouter = router.openapi(routes.getOne, handlers.getOne).openapi(routes.list, handlers.list)
