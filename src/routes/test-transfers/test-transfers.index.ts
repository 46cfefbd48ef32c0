import { createMiddleware } from 'hono/factory'
import { Problem } from '../../lib/problem'
import type { AppEnv } from '../../middleware/app-env'
import { partnerAuth } from '../../middleware/auth'
import { rateLimit } from '../../middleware/rate-limit'
import { createRouter } from '../router'
import * as handlers from './test-transfers.handlers'
import * as routes from './test-transfers.routes'

// Test-only routes do not exist for a live key, exactly like a path with no route.
const testKeysOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get('partner').mode !== 'test') {
    throw new Problem('not_found', { detail: `No route for ${c.req.method} ${c.req.path} with a live key.` })
  }
  await next()
})

const router = createRouter()
router.use(partnerAuth, testKeysOnly, rateLimit)

export const testTransfersRouter = router.openapi(routes.code, handlers.code).openapi(routes.settle, handlers.settle)
