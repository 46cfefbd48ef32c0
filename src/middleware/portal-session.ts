import { getCookie } from 'hono/cookie'
import { createMiddleware } from 'hono/factory'
import { secretsEqual } from '../lib/crypto'
import { Problem } from '../lib/problem'
import { csrfTokenOf, findPortalSession } from '../partners/portal-sessions'
import { addressCheckOf, requireAllowedAddress } from './access'
import type { AppEnv } from './app-env'

export const PORTAL_COOKIE = 'tgw_portal'

/**
 * The partner portal's session: the cookie names a stored session (by keyed hash), which names one
 * partner in one mode; every page then reads exactly as an API call with that partner's key would.
 */
export const portalSession = createMiddleware<AppEnv>(async (c, next) => {
  const { db, settings, now } = c.get('services')
  const cookie = getCookie(c, PORTAL_COOKIE)
  const found = cookie ? await findPortalSession(db, settings.API_KEY_SECRET, cookie, now(), settings) : null
  if (!found) {
    throw new Problem('unauthorized', {
      detail: 'Your portal session has ended or was never opened: open a new login link.',
    })
  }
  const { session, partner } = found
  c.get('log').partnerId = partner.id
  // The partner's IP allowlist holds for its people as for its servers: every portal page.
  requireAllowedAddress(c, addressCheckOf(found.ipAllowlist))
  c.set('partner', partner)
  c.set('portal', {
    sessionId: session.id,
    csrf: await csrfTokenOf(settings.API_KEY_SECRET, session.id),
    returnUrl: session.returnUrl,
  })
  await next()
})

/** Every form that changes something carries the session's CSRF token (SameSite=Strict is the other half). */
export const requireCsrf = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.method === 'POST') {
    const form = await c.req.parseBody()
    const given = typeof form._csrf === 'string' ? form._csrf : ''
    if (!(await secretsEqual(given, c.get('portal').csrf))) {
      throw new Problem('forbidden', {
        detail: 'The form is stale or came from elsewhere: reload the page and try again.',
      })
    }
  }
  await next()
})
