import { Hono } from 'hono'
import { deleteCookie, setCookie } from 'hono/cookie'
import { HTTPException } from 'hono/http-exception'
import { deliveryHealth, getTransferTimeline } from '../../callbacks/event-history'
import { redeliverEvent } from '../../callbacks/redelivery'
import { PROBLEMS, Problem } from '../../lib/problem'
import type { AppEnv } from '../../middleware/app-env'
import { PORTAL_COOKIE, portalSession, requireCsrf } from '../../middleware/portal-session'
import { endPortalSession, openPortalSession, PORTAL_SESSION_SECONDS } from '../../partners/portal-sessions'
import { PROVIDERS, type ProviderName } from '../../schemas/common'
import { transferNotFound } from '../../transfers/problems'
import { countByStatus, findTransfer, listTransfers } from '../../transfers/store/read'
import { STYLESHEET } from './assets'
import { Layout, type PageProps } from './layout'
import { Overview } from './overview'
import { type TransferFilters, TransferList, TransferPage } from './transfers'

const DAY = 24 * 3600 * 1000
const PAGE_SIZE = 25

const dateOf = (value: string | undefined) =>
  value && /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(value) : undefined

// The partner portal: server-rendered pages, readable without JavaScript, for one partner in one mode.
export const portalRouter = new Hono<AppEnv>()

portalRouter.get(STYLESHEET.path.replace('/portal', ''), (c) =>
  c.body(STYLESHEET.body, 200, {
    'content-type': 'text/css; charset=utf-8',
    'cache-control': 'public, max-age=31536000, immutable',
  }),
)

/** A login link opens its session once, sets the cookie and leaves the token out of the address bar. */
portalRouter.get('/login', async (c) => {
  const { db, settings, now } = c.var.services
  const token = c.req.query('token') ?? ''
  const opened = /^[A-Za-z0-9]{43}$/.test(token)
    ? await openPortalSession(db, settings.API_KEY_SECRET, token, now())
    : null
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

const page = (c: { var: AppEnv['Variables'] }, props: Omit<PageProps, 'partner' | 'portal'>) => (
  <Layout {...props} partner={c.var.partner} portal={c.var.portal} />
)

portalRouter.get('/', async (c) => {
  const { db, now } = c.var.services
  const at = now()
  const [day, week, deliveries] = await Promise.all([
    countByStatus(db, c.var.partner, at - DAY),
    countByStatus(db, c.var.partner, at - 7 * DAY),
    deliveryHealth(db, c.var.partner, at - 7 * DAY),
  ])
  const since = {
    day: new Date(at - DAY).toISOString().slice(0, 10),
    week: new Date(at - 7 * DAY).toISOString().slice(0, 10),
  }
  return c.html(
    page(c, {
      title: 'Overview',
      section: 'overview',
      children: <Overview day={day} week={week} since={since} deliveries={deliveries} />,
    }),
  )
})

portalRouter.get('/transfers', async (c) => {
  const q = c.req.query()
  const filters: TransferFilters = {
    status: q.status || undefined,
    provider: PROVIDERS.includes(q.provider as ProviderName) ? q.provider : undefined,
    search: q.search?.trim() || undefined,
    created_from: q.created_from || undefined,
    created_before: q.created_before || undefined,
  }
  const { rows, hasMore } = await listTransfers(c.var.services.db, c.var.partner, {
    status: filters.status,
    provider: filters.provider as ProviderName | undefined,
    search: filters.search,
    createdFrom: dateOf(filters.created_from),
    createdBefore: dateOf(filters.created_before),
    startingAfter: q.starting_after || undefined,
    limit: PAGE_SIZE,
  })
  return c.html(
    page(c, {
      title: 'Transfers',
      section: 'transfers',
      children: <TransferList rows={rows} hasMore={hasMore} filters={filters} />,
    }),
  )
})

portalRouter.get('/transfers/:transfer_id', async (c) => {
  const id = c.req.param('transfer_id')
  const { db } = c.var.services
  const [transfer, timeline] = await Promise.all([
    findTransfer(db, c.var.partner, id),
    getTransferTimeline(db, c.var.partner, id),
  ])
  if (!transfer) throw transferNotFound(id)
  const notice = c.req.query('redelivered')
    ? 'A new delivery was queued; it appears below as it is attempted.'
    : undefined
  return c.html(
    page(c, {
      title: `Transfer ${id}`,
      section: 'transfers',
      children: <TransferPage transfer={transfer} timeline={timeline} csrf={c.var.portal.csrf} notice={notice} />,
    }),
  )
})

portalRouter.post('/events/:event_id/redeliver', async (c) => {
  const form = await c.req.parseBody()
  const endpointId = typeof form.endpoint_id === 'string' ? form.endpoint_id : undefined
  const transferId = typeof form.transfer_id === 'string' ? form.transfer_id : ''
  await redeliverEvent(c.var.services, c.var.partner, c.req.param('event_id'), endpointId)
  return c.redirect(`/portal/transfers/${encodeURIComponent(transferId)}?redelivered=1`, 303)
})

portalRouter.post('/logout', async (c) => {
  await endPortalSession(c.var.services.db, c.var.portal.sessionId, c.var.services.now())
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
    <Layout title={title} partner={c.var.portal ? c.var.partner : undefined} portal={c.var.portal}>
      <h1>{title}</h1>
      <p>{problem.message}</p>
      <p class="muted">
        Code <code>{problem.code}</code>. <a href={`/problems/${problem.code}`}>What this means</a>
      </p>
    </Layout>,
    status as 401,
  )
})
