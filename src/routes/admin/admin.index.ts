import { adminAuth } from '../../middleware/auth'
import { createRouter } from '../router'
import { apiKeysRouter } from './api-keys/api-keys.index'
import { auditLogAdminRouter } from './audit-log/audit-log.index'
import { connectionsRouter } from './connections/connections.index'
import { adminHealthRouter } from './health/health.index'
import { partnersRouter } from './partners/partners.index'
import { portalSessionsAdminRouter } from './portal-sessions/portal-sessions.index'

// The operator's API: one admin token guards every resource below it.
const router = createRouter()
router.use(adminAuth)

export const adminRouter = router
  .route('/', partnersRouter)
  .route('/', apiKeysRouter)
  .route('/', connectionsRouter)
  .route('/', portalSessionsAdminRouter)
  .route('/', auditLogAdminRouter)
  .route('/', adminHealthRouter)
