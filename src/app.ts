import { HTTPException } from 'hono/http-exception'
import { methodNotAllowed } from 'hono/method-not-allowed'
import { requestId } from 'hono/request-id'
import { describeError, isDatabaseError } from './lib/errors'
import { log } from './lib/log'
import { Problem, renderProblem } from './lib/problem'
import { drainUnreadBody, limitBody, requireJson } from './middleware/body-limit'
import { requestLog } from './middleware/request-log'
import { corsIfConfigured, securityHeaders } from './middleware/security'
import { withServices } from './middleware/with-services'
import { describeApi } from './openapi'
import { adminRouter } from './routes/admin/admin.index'
import { auditLogRouter } from './routes/audit-log/audit-log.index'
import { documentsRouter } from './routes/documents/documents.index'
import { eventsRouter } from './routes/events/events.index'
import { healthRouter } from './routes/health/health.index'
import { portalRouter } from './routes/portal/portal.index'
import { portalSessionsRouter } from './routes/portal-sessions/portal-sessions.index'
import { problemsRouter } from './routes/problems/problems.index'
import { providerWebhooksRouter } from './routes/provider-webhooks/provider-webhooks.index'
import { createRouter } from './routes/router'
import { testTransfersRouter } from './routes/test-transfers/test-transfers.index'
import { transfersRouter } from './routes/transfers/transfers.index'
import { webhookEndpointsRouter } from './routes/webhook-endpoints/webhook-endpoints.index'
import { DOCUMENT_LIMITS } from './schemas/documents'

/** Framework errors (unparsable JSON, oversize bodies) in the API's own problem vocabulary. */
const problemFromHttpException = (error: HTTPException): Problem => {
  if (error.status === 400) return new Problem('malformed_json', { detail: 'The request body is not valid JSON.' })
  if (error.status === 413) return new Problem('payload_too_large')
  if (error.status === 401) return new Problem('unauthorized')
  // @hono/zod-openapi's own check of a declared content type (a body-less request included).
  if (error.status === 415)
    return new Problem('unsupported_media_type', { detail: 'Send the request body as application/json.' })
  return new Problem('invalid_request', { detail: error.message })
}

// All files may be 20 MB together; the multipart framing around them gets 1 MB.
const DOCUMENT_BODY_LIMIT = DOCUMENT_LIMITS.maxTotalBytes + 1024 * 1024
const isDocumentUpload = (path: string) => /^\/v1\/users\/[^/]+\/documents$/.test(path)

export const createApp = () => {
  const app = createRouter()

  app.use(requestId())
  app.use(requestLog)
  app.use(securityHeaders)
  app.use(drainUnreadBody)
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        renderProblem(
          c,
          new Problem('method_not_allowed', {
            detail: `${c.req.method} is not allowed here; use ${methods.join(', ')}.`,
            headers: { allow: methods.join(', ') },
          }),
        ),
    }),
  )
  app.use('*', withServices)
  app.use('/v1/*', corsIfConfigured)
  // Document uploads are multipart and large; every other body is JSON and small.
  app.use('/v1/users/:user_id/documents', (c, next) => limitBody(DOCUMENT_BODY_LIMIT)(c, next))
  app.use('/v1/*', async (c, next) => {
    if (isDocumentUpload(c.req.path)) return next()
    await limitBody(c.get('services').settings.MAX_BODY_BYTES)(c, async () => {
      await requireJson(c, next)
    })
  })
  app.use('/admin/*', (c, next) => limitBody(c.get('services').settings.MAX_BODY_BYTES)(c, next), requireJson)
  app.use('/providers/*', (c, next) => limitBody(c.get('services').settings.MAX_BODY_BYTES)(c, next))

  // Chained, so the app's type carries every route: partners' typed client (hc<AppType>) is built from it.
  const routes = app
    .route('/', healthRouter)
    .route('/', problemsRouter)
    .route('/v1/transfers', transfersRouter)
    .route('/v1/test/transfers', testTransfersRouter)
    .route('/v1/portal-sessions', portalSessionsRouter)
    .route('/v1/webhook-endpoints', webhookEndpointsRouter)
    .route('/v1/events', eventsRouter)
    .route('/v1/audit-log', auditLogRouter)
    .route('/v1', documentsRouter)
    .route('/admin', adminRouter)
    .route('/providers', providerWebhooksRouter)
  // The partner portal's pages: HTML for people, not part of the API (nor of its OpenAPI document).
  // "/portal/" as people type it: the overview lives at /portal (routing is strict; before the
  // portal's own session check, which would refuse it).
  app.get('/portal/', (c) => c.redirect('/portal', 301))
  app.route('/portal', portalRouter)
  describeApi(app)

  app.notFound((c) =>
    renderProblem(c, new Problem('not_found', { detail: `No route for ${c.req.method} ${c.req.path}.` })),
  )
  app.onError(async (error, c) => {
    if (error instanceof Problem) return renderProblem(c, error)
    if (error instanceof HTTPException) return renderProblem(c, problemFromHttpException(error))
    if (isDatabaseError(error)) {
      log.error('database error', { request_id: c.get('requestId'), error: describeError(error) })
      return renderProblem(
        c,
        new Problem('service_unavailable', {
          detail: 'The database is unavailable; retry shortly.',
          headers: { 'retry-after': '1' },
        }),
      )
    }
    log.error('unhandled error', { request_id: c.get('requestId'), error: describeError(error) })
    return renderProblem(
      c,
      new Problem('internal_error', { detail: 'Something went wrong on our side; it has been logged.' }),
    )
  })
  return routes
}

/** The whole API's type, for `hc<AppType>(baseUrl)` from `hono/client`. */
export type AppType = ReturnType<typeof createApp>
