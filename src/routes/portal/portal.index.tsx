import { Hono } from 'hono'
import { deleteCookie, setCookie } from 'hono/cookie'
import { HTTPException } from 'hono/http-exception'
import { PROBLEMS, Problem } from '../../lib/problem'
import type { AppEnv } from '../../middleware/app-env'
import { PORTAL_COOKIE, portalSession, requireCsrf } from '../../middleware/portal-session'
import {
  endPortalSession,
  findLoginLink,
  openPortalSession,
  PORTAL_SESSION_SECONDS,
} from '../../partners/portal-sessions'
import { documentPages } from './documents'
import { endpointPages } from './endpoints'
import { keyPages } from './keys'
import { Layout } from './layout'
import { overviewPages } from './overview'
import { transferPages } from './transfers'

// The partner portal: server-rendered pages, readable without JavaScript, for one partner in one mode.
export const portalRouter = new Hono<AppEnv>()

/** A login link opens its session once, sets the cookie and leaves the token out of the address bar. */
portalRouter.get('/login', async (c) => {
  const { db, settings, now } = c.get('services')
  const token = c.req.query('token') ?? ''
  const link = /^[A-Za-z0-9]{43}$/.test(token) ? await findLoginLink(db, settings.API_KEY_SECRET, token, now()) : null
  // The session signs itself in: the audit entry names it before the write that opens it.
  if (link) {
    const actor = { actorType: 'portal_session' as const, actorId: link.id, actorLabel: null }
    c.get('audit').about({ actor, partnerId: link.partnerId, mode: link.mode, objectId: link.id })
  }
  const opened = link ? await openPortalSession(db, settings.API_KEY_SECRET, token, now()) : null
  if (!opened) {
    throw new Problem('unauthorized', {
      detail: 'This login link has expired or was already used. Ask for a new one.',
    })
  }
  setCookie(c, PORTAL_COOKIE, opened.cookie, {
    httpOnly: true,
    secure: new URL(c.req.url).protocol === 'https:' || settings.ENVIRONMENT === 'production',
    sameSite: 'Strict',
    path: '/portal',
    maxAge: PORTAL_SESSION_SECONDS,
  })
  return c.redirect('/portal', 303)
})

portalRouter.use('*', portalSession, requireCsrf)

portalRouter.route('/', overviewPages)
portalRouter.route('/', transferPages)
portalRouter.route('/', endpointPages)
portalRouter.route('/', keyPages)
portalRouter.route('/', documentPages)

portalRouter.post('/logout', async (c) => {
  const { sessionId } = c.get('portal')
  c.get('audit').about({ objectId: sessionId })
  const { db, now } = c.get('services')
  await endPortalSession(db, sessionId, now())
  deleteCookie(c, PORTAL_COOKIE, { path: '/portal' })
  return c.html(
    <Layout title="Signed out">
      <h1>Signed out</h1>
      <p>Open a new login link to come back.</p>
    </Layout>,
  )
})

/** Refusals as pages, not JSON: the same codes and words as the API, for people. */
portalRouter.onError((error, c) => {
  const problem =
    error instanceof Problem
      ? error
      : error instanceof HTTPException
        ? new Problem('invalid_request', { detail: error.message })
        : null
  if (!problem) throw error
  const [status, title] = PROBLEMS[problem.code]
  return c.html(
    <Layout title={title} partner={c.get('portal') ? c.get('partner') : undefined} portal={c.get('portal')}>
      <h1>{title}</h1>
      <p>{problem.message}</p>
      <p class="muted">
        Code <code>{problem.code}</code>. <a href={`/problems/${problem.code}`}>What this means</a>
      </p>
    </Layout>,
    status as 401,
  )
})
