import type { Hono } from 'hono'
import { requireTransferPermission, type SfoxEnv } from './auth'
import { fail } from './http'
import type { SfoxSettings } from './settings'
import type { SfoxState } from './state'
import { validateHistoryQuery } from './validate'
import { transferJson } from './view'

const monthsBefore = (ms: number, months: number) => {
  const date = new Date(ms)
  date.setUTCMonth(date.getUTCMonth() - months)
  return date.getTime()
}

/** §5.7 history and §5.6 permissions. */
export const mountHistoryRoutes = (app: Hono<SfoxEnv>, state: SfoxState, settings: SfoxSettings) => {
  app.get('/v1/enterprise/transfer/history', requireTransferPermission(settings, 'other'), (c) => {
    const valid = validateHistoryQuery(c.req.query())
    if (!valid.ok) return fail(c, 422, valid.error)
    const q = valid.value
    const now = state.clock.now()
    // [DOC] last 3 months when no range is given. [INFERRED] a lone to_date looks back the same window
    // from itself; a lone from_date has no upper bound; both bounds are inclusive; from > to gives [].
    const from = q.from_date ?? monthsBefore(q.to_date ?? now, settings.history_default_window_months)
    const to = q.to_date ?? Number.POSITIVE_INFINITY
    const data = state
      .transfersOf([c.get('account')])
      .filter(
        (t) =>
          t.created_at >= from &&
          t.created_at <= to &&
          (!q.type || t.type === q.type) &&
          (!q.purpose || t.purpose === q.purpose) &&
          (!q.status || t.status === q.status),
      )
      .slice(0, settings.history_max_rows)
      .map((t) => transferJson(settings, t, now, { atxAsString: true }))
    return c.json({ data }, 200)
  })

  // [INFERRED] §5.6: the page body is not public; path and shape are placeholders modelled on
  // GET /v1/enterprise/monetization/permissions. [INFERRED] it stays readable without the account-wide transfer
  // permission and then lists both types as not enabled.
  app.get('/v1/enterprise/transfer/permissions', (c) => {
    const account = c.get('account')
    const permissions = state.permissionsOf(account)
    return c.json({
      data: (['PAYMENT', 'PAYOUT'] as const).map((type) => ({
        type,
        enabled: account.transfer_permission && permissions[type],
      })),
    })
  })
}
