import { Hono } from 'hono'
import type { Delivery, DeliveryAttempt, Event, Transfer } from '../../../db/schema'
import { getTransferTimeline } from '../../callbacks/event-history'
import type { AppEnv } from '../../middleware/app-env'
import { TRANSFER_STATUSES } from '../../rules/transfer-states'
import { PROVIDERS, type ProviderName } from '../../schemas/common'
import { renderTransfer } from '../../schemas/transfers'
import { transferNotFound } from '../../transfers/problems'
import { findTransfer, listTransfers } from '../../transfers/store/read'
import { AttemptTable, RedeliverForm } from './events'
import { page, Scroll, Status, Time } from './layout'

const PAGE_SIZE = 25

const dateOf = (value: string | undefined) =>
  value && /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(value) : undefined

export type TransferFilters = {
  status?: string
  provider?: string
  search?: string
  created_from?: string
  created_before?: string
}

const query = (filters: TransferFilters, extra: Record<string, string> = {}) => {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries({ ...filters, ...extra })) if (v) params.set(k, v)
  const text = params.toString()
  return text ? `?${text}` : ''
}

export const TransferList = (props: { rows: Transfer[]; hasMore: boolean; filters: TransferFilters }) => {
  const { rows, hasMore, filters } = props
  const last = rows.at(-1)
  return (
    <>
      <h1>Transfers</h1>
      <search>
        <form class="filters" method="get" action="/portal/transfers">
          <label>
            Transfer id or provider reference
            <input name="search" value={filters.search ?? ''} />
          </label>
          <label>
            Status
            <select name="status">
              <option value="">Any</option>
              {TRANSFER_STATUSES.map((s) => (
                <option value={s} selected={s === filters.status}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Provider
            <select name="provider">
              <option value="">Any</option>
              {PROVIDERS.map((p) => (
                <option value={p} selected={p === filters.provider}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Created from
            <input type="date" name="created_from" value={filters.created_from ?? ''} />
          </label>
          <label>
            Created before
            <input type="date" name="created_before" value={filters.created_before ?? ''} />
          </label>
          <button type="submit">Filter</button>
        </form>
      </search>
      {rows.length === 0 ? (
        <p class="panel">No transfers match.</p>
      ) : (
        <Scroll label="Transfers">
          <table>
            <caption class="skip">Transfers, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Transfer</th>
                <th scope="col">Provider</th>
                <th scope="col">Status</th>
                <th scope="col">Provider reference</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <tr>
                  <td>
                    <a href={`/portal/transfers/${encodeURIComponent(t.transferId)}`}>{t.transferId}</a>
                  </td>
                  <td>{t.provider}</td>
                  <td>
                    <Status value={t.status} />
                  </td>
                  <td>{t.providerReference ?? <span class="muted">—</span>}</td>
                  <td>
                    <Time ms={t.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      <nav class="pager" aria-label="Pages">
        {filters !== undefined && query(filters) && <a href="/portal/transfers">Clear filters</a>}
        {hasMore && last && (
          <a href={`/portal/transfers${query(filters, { starting_after: last.transferId })}`}>Older transfers</a>
        )}
      </nav>
    </>
  )
}

type Timeline = { event: Event; deliveries: { delivery: Delivery; attempts: DeliveryAttempt[] }[] }[]

export const TransferPage = (props: { transfer: Transfer; timeline: Timeline; csrf: string; notice?: string }) => {
  const resource = renderTransfer(props.transfer)
  const v = resource.verification
  return (
    <>
      <h1>
        Transfer {resource.id} <Status value={resource.status} />
      </h1>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      <section class="panel" aria-labelledby="summary">
        <h2 id="summary">Summary</h2>
        <dl>
          <dt>Provider</dt>
          <dd>{resource.provider}</dd>
          <dt>Provider status</dt>
          <dd>{resource.provider_status ?? '—'}</dd>
          <dt>Provider reference</dt>
          <dd>{resource.provider_reference ?? '—'}</dd>
          <dt>Mode</dt>
          <dd>{resource.livemode ? 'live' : 'test'}</dd>
          <dt>Created</dt>
          <dd>
            <Time ms={props.transfer.createdAt} />
          </dd>
          <dt>Updated</dt>
          <dd>
            <Time ms={props.transfer.updatedAt} />
          </dd>
          {resource.failure && (
            <>
              <dt>Provider error</dt>
              <dd>
                {resource.failure.code}: {resource.failure.message}
              </dd>
            </>
          )}
        </dl>
      </section>
      <section class="panel" aria-labelledby="verification">
        <h2 id="verification">Verification</h2>
        <dl>
          <dt>Required</dt>
          <dd>{v.required ? `yes, by ${v.channel ?? 'the provider'}` : 'no'}</dd>
          <dt>Code sent</dt>
          <dd>
            <Time ms={props.transfer.codeSentAt} />
          </dd>
          <dt>Code expires</dt>
          <dd>{v.code_expires_at ? <Time ms={Date.parse(v.code_expires_at)} /> : '—'}</dd>
          <dt>Resends</dt>
          <dd>
            {v.resends_used} used, {v.resends_remaining} left
          </dd>
          <dt>Attempts left</dt>
          <dd>{v.attempts_remaining ?? '—'}</dd>
          <dt>Waits for the code until</dt>
          <dd>{v.expires_at ? <Time ms={Date.parse(v.expires_at)} /> : '—'}</dd>
        </dl>
      </section>
      <section aria-labelledby="timeline">
        <h2 id="timeline">Timeline</h2>
        {props.timeline.length === 0 ? (
          <p class="muted">No events yet.</p>
        ) : (
          <ol class="timeline">
            {props.timeline.map(({ event, deliveries }) => {
              const data = JSON.parse(event.data) as { previous_status: string | null }
              return (
                <li>
                  <h3>
                    {event.sequence}. {event.type}{' '}
                    <span class="muted">
                      at <Time ms={event.createdAt} />, from {data.previous_status ?? 'nothing (new)'}
                    </span>
                  </h3>
                  <details>
                    <summary>Payload</summary>
                    <pre>{JSON.stringify(JSON.parse(event.data), null, 2)}</pre>
                  </details>
                  {deliveries.length === 0 ? (
                    <p class="muted">No endpoint was subscribed to this event.</p>
                  ) : (
                    deliveries.map(({ delivery, attempts }) => (
                      <div class="panel">
                        <p>
                          To endpoint <code>{delivery.endpointId}</code>: <Status value={delivery.status} />
                        </p>
                        <AttemptTable
                          attempts={attempts}
                          caption={`Attempts to ${delivery.endpointId}, oldest first`}
                        />
                        <RedeliverForm
                          eventId={event.id}
                          endpointId={delivery.endpointId}
                          csrf={props.csrf}
                          returnTo={`/portal/transfers/${encodeURIComponent(resource.id)}`}
                        />
                      </div>
                    ))
                  )}
                </li>
              )
            })}
          </ol>
        )}
      </section>
    </>
  )
}

export const transferPages = new Hono<AppEnv>()

transferPages.get('/transfers', async (c) => {
  const q = c.req.query()
  const filters: TransferFilters = {
    status: q.status || undefined,
    provider: PROVIDERS.includes(q.provider as ProviderName) ? q.provider : undefined,
    search: q.search?.trim() || undefined,
    created_from: q.created_from || undefined,
    created_before: q.created_before || undefined,
  }
  const { rows, hasMore } = await listTransfers(c.get('services').db, c.get('partner'), {
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

transferPages.get('/transfers/:transfer_id', async (c) => {
  const id = c.req.param('transfer_id')
  const { db } = c.get('services')
  const [transfer, timeline] = await Promise.all([
    findTransfer(db, c.get('partner'), id),
    getTransferTimeline(db, c.get('partner'), id),
  ])
  if (!transfer) throw transferNotFound(id)
  const notice = c.req.query('redelivered')
    ? 'A new delivery was queued; it appears below as it is attempted.'
    : undefined
  return c.html(
    page(c, {
      title: `Transfer ${id}`,
      section: 'transfers',
      children: <TransferPage transfer={transfer} timeline={timeline} csrf={c.get('portal').csrf} notice={notice} />,
    }),
  )
})
