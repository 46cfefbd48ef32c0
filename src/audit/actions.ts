import { PROVIDERS } from '../schemas/common'

// Which requests the audit log records, by the route that answers them: every write of the admin
// API, of keys, connections, endpoints and portal sessions, portal sign-in and sign-out, and every
// money action. Reads are never recorded. Keys are Hono's "METHOD path" of the handler's route.

export type AuditedAction = {
  action: string
  objectType: string
  /** The path parameter naming the object; without one the route names it, or else the handler (a create). */
  objectParam?: string
  objectId?: string
}

const on = (action: string, objectType: string, objectParam?: string, objectId?: string): AuditedAction => ({
  action,
  objectType,
  objectParam,
  objectId,
})

export const AUDITED_ROUTES: Readonly<Record<string, AuditedAction>> = {
  // Money actions (partner API)
  'POST /v1/transfers': on('transfer.create', 'transfer'),
  'POST /v1/transfers/:transfer_id/confirm': on('transfer.confirm', 'transfer', 'transfer_id'),
  'POST /v1/transfers/:transfer_id/resend': on('transfer.resend', 'transfer', 'transfer_id'),
  'POST /v1/transfers/:transfer_id/cancel': on('transfer.cancel', 'transfer', 'transfer_id'),
  'POST /v1/test/transfers/:transfer_id/:outcome': on('transfer.simulate', 'transfer', 'transfer_id'),
  'POST /v1/users/:user_id/documents': on('documents.submit', 'user', 'user_id'),
  // Partner API: endpoints, events, portal links
  'POST /v1/webhook-endpoints': on('webhook_endpoint.create', 'webhook_endpoint'),
  'PATCH /v1/webhook-endpoints/:id': on('webhook_endpoint.update', 'webhook_endpoint', 'id'),
  'DELETE /v1/webhook-endpoints/:id': on('webhook_endpoint.delete', 'webhook_endpoint', 'id'),
  'POST /v1/webhook-endpoints/:id/rotate-secret': on('webhook_endpoint.rotate_secret', 'webhook_endpoint', 'id'),
  'POST /v1/webhook-endpoints/:id/recover': on('webhook_endpoint.recover', 'webhook_endpoint', 'id'),
  'POST /v1/webhook-endpoints/:id/test': on('webhook_endpoint.test', 'webhook_endpoint', 'id'),
  'POST /v1/events/:id/redeliver': on('event.redeliver', 'event', 'id'),
  'POST /v1/portal-sessions': on('portal_session.create', 'portal_session'),
  // Admin API
  'POST /admin/partners': on('partner.create', 'partner'),
  'PATCH /admin/partners/:partner_id': on('partner.update', 'partner', 'partner_id'),
  'POST /admin/partners/:partner_id/api-keys': on('api_key.create', 'api_key'),
  'DELETE /admin/partners/:partner_id/api-keys/:key_id': on('api_key.revoke', 'api_key', 'key_id'),
  'POST /admin/partners/:partner_id/api-keys/:key_id/roll': on('api_key.roll', 'api_key', 'key_id'),
  // One PUT route per provider (each its own body): …/connections/sfox, …/connections/qi.
  ...Object.fromEntries(
    PROVIDERS.map((name) => [
      `PUT /admin/partners/:partner_id/connections/${name}`,
      on('connection.update', 'connection', undefined, name),
    ]),
  ),
  'DELETE /admin/partners/:partner_id/connections/:provider': on('connection.delete', 'connection', 'provider'),
  'POST /admin/partners/:partner_id/connections/:provider/check': on('connection.check', 'connection', 'provider'),
  'POST /admin/partners/:partner_id/portal-sessions': on('portal_session.create', 'portal_session'),
  'DELETE /admin/partners/:partner_id/portal-sessions': on('portal_session.revoke_all', 'partner', 'partner_id'),
  // Partner portal (people, through a browser session)
  'GET /portal/login': on('portal.sign_in', 'portal_session'),
  'POST /portal/logout': on('portal.sign_out', 'portal_session'),
  'POST /portal/endpoints': on('webhook_endpoint.create', 'webhook_endpoint'),
  'POST /portal/endpoints/:endpoint_id': on('webhook_endpoint.update', 'webhook_endpoint', 'endpoint_id'),
  'POST /portal/endpoints/:endpoint_id/enable': on('webhook_endpoint.enable', 'webhook_endpoint', 'endpoint_id'),
  'POST /portal/endpoints/:endpoint_id/disable': on('webhook_endpoint.disable', 'webhook_endpoint', 'endpoint_id'),
  'POST /portal/endpoints/:endpoint_id/rotate-secret': on(
    'webhook_endpoint.rotate_secret',
    'webhook_endpoint',
    'endpoint_id',
  ),
  'POST /portal/endpoints/:endpoint_id/test': on('webhook_endpoint.test', 'webhook_endpoint', 'endpoint_id'),
  'POST /portal/endpoints/:endpoint_id/recover': on('webhook_endpoint.recover', 'webhook_endpoint', 'endpoint_id'),
  'POST /portal/events/:event_id/redeliver': on('event.redeliver', 'event', 'event_id'),
  'POST /portal/keys': on('api_key.create', 'api_key'),
  'POST /portal/keys/:key_id/roll': on('api_key.roll', 'api_key', 'key_id'),
  'POST /portal/keys/:key_id/revoke': on('api_key.revoke', 'api_key', 'key_id'),
}

/** The route pattern's parameters read off a concrete path ("/a/:id" and "/a/x" give { id: "x" }). */
export const paramsOf = (pattern: string, path: string): Record<string, string> => {
  const want = pattern.split('/')
  const got = path.split('/')
  const params: Record<string, string> = {}
  want.forEach((segment, i) => {
    if (!segment.startsWith(':') || got[i] === undefined) return
    try {
      params[segment.slice(1)] = decodeURIComponent(got[i]!)
    } catch {
      params[segment.slice(1)] = got[i]!
    }
  })
  return params
}
