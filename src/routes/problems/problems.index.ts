import { createRouter } from '../router'
import * as handlers from './problems.handlers'
import * as routes from './problems.routes'

// Documented in the OpenAPI registry, served by hand: the same URL answers JSON or HTML (Accept).
const router = createRouter()
router.openAPIRegistry.registerPath(routes.list)
router.openAPIRegistry.registerPath(routes.get)

export const problemsRouter = router.get('/problems', handlers.list).get('/problems/:code', handlers.get)
