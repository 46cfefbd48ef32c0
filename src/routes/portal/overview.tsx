import { Hono } from 'hono'
import { deliveryHealth } from '../../callbacks/event-history'
import type { AppEnv } from '../../middleware/app-env'
import { TRANSFER_STATUSES } from '../../rules/transfer-states'
import { countByStatus } from '../../transfers/store/read'
import { page, Scroll } from './layout'

const DAY = 24 * 3600 * 1000

type Counts = { status: string; count: number }[]

/** Horizontal bars, one per status, each a link to the filtered list; an SVG with its numbers as text. */
const StatusBars = ({ counts, label, since }: { counts: Counts; label: string; since: string }) => {
  const byStatus = new Map(counts.map((c) => [c.status, Number(c.count)]))
  const rows = TRANSFER_STATUSES.map((s) => ({ status: s, count: byStatus.get(s) ?? 0 }))
  const max = Math.max(1, ...rows.map((r) => r.count))
  const height = rows.length * 24
  return (
    <figure class="panel">
      <figcaption>
        <h2>{label}</h2>
      </figcaption>
      <svg
        viewBox={`0 0 320 ${height}`}
        width="100%"
        aria-label={`${label}: ${rows.map((r) => `${r.status} ${r.count}`).join(', ')}`}
      >
        {rows.map((r, i) => (
          <a href={`/portal/transfers?status=${r.status}&created_from=${since}`}>
            <text x="0" y={i * 24 + 16} font-size="13" fill="#1a1d23">
              {r.status}
            </text>
            <rect x="150" y={i * 24 + 4} height="16" width={Math.max(1, (r.count / max) * 130)} fill="#1d4ed8" />
            <text x={156 + (r.count / max) * 130} y={i * 24 + 16} font-size="13" fill="#1a1d23">
              {r.count}
            </text>
          </a>
        ))}
      </svg>
    </figure>
  )
}

export const Overview = (props: {
  day: Counts
  week: Counts
  since: { day: string; week: string }
  deliveries: { outcomes: Counts; failing: { endpointId: string; failures: number; lastError: string | null }[] }
}) => {
  const outcome = new Map(props.deliveries.outcomes.map((o) => [o.status, Number(o.count)]))
  const delivered = outcome.get('delivered') ?? 0
  const failed = outcome.get('failed') ?? 0
  const pending = outcome.get('pending') ?? 0
  const settled = delivered + failed
  return (
    <>
      <h1>Overview</h1>
      <StatusBars counts={props.day} label="Transfers created in the last 24 hours" since={props.since.day} />
      <StatusBars counts={props.week} label="Transfers created in the last 7 days" since={props.since.week} />
      <section class="panel" aria-labelledby="callbacks">
        <h2 id="callbacks">Callbacks in the last 7 days</h2>
        <p>
          {settled === 0
            ? 'No callback has finished yet.'
            : `${Math.round((delivered / settled) * 1000) / 10}% delivered (${delivered} delivered, ${failed} failed)`}
          {pending > 0 && `, ${pending} still being retried`}.
        </p>
        {props.deliveries.failing.length === 0 ? (
          <p>No receiver is failing.</p>
        ) : (
          <Scroll label="Receivers failing now">
            <table>
              <caption>Receivers failing now</caption>
              <thead>
                <tr>
                  <th scope="col">Endpoint</th>
                  <th scope="col">Failing deliveries</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {props.deliveries.failing.map((f) => (
                  <tr>
                    <td>
                      <code>{f.endpointId}</code>
                    </td>
                    <td>{f.failures}</td>
                    <td>{f.lastError ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Scroll>
        )}
      </section>
    </>
  )
}

export const overviewPages = new Hono<AppEnv>()

overviewPages.get('/', async (c) => {
  const { db, now } = c.get('services')
  const at = now()
  const [counts, deliveries] = await Promise.all([
    countByStatus(db, c.get('partner'), { recent: at - DAY, wider: at - 7 * DAY }),
    deliveryHealth(db, c.get('partner'), at - 7 * DAY),
  ])
  const since = {
    day: new Date(at - DAY).toISOString().slice(0, 10),
    week: new Date(at - 7 * DAY).toISOString().slice(0, 10),
  }
  return c.html(
    page(c, {
      title: 'Overview',
      section: 'overview',
      children: <Overview day={counts.recent} week={counts.wider} since={since} deliveries={deliveries} />,
    }),
  )
})
