import { Hono } from 'hono'
import type { Delivery, DeliveryAttempt, Event } from '../../../db/schema'
import { getEventWithDeliveries } from '../../callbacks/event-history'
import { redeliverEvent } from '../../callbacks/redelivery'
import type { AppEnv } from '../../middleware/app-env'
import { renderEvent, TEST_EVENT_TYPE } from '../../schemas/callbacks'
import { Csrf, field, page, Scroll, Status, Time } from './layout'

// One event as its receivers got it: the payload, and per endpoint every attempt, with redelivery.

export const eventPath = (id: string) => `/portal/events/${encodeURIComponent(id)}`
export const endpointPath = (id: string) => `/portal/endpoints/${encodeURIComponent(id)}`

export const AttemptTable = ({ attempts, caption }: { attempts: DeliveryAttempt[]; caption: string }) =>
  attempts.length === 0 ? (
    <p class="muted">Not attempted yet.</p>
  ) : (
    <Scroll label="Delivery attempts">
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">At</th>
            <th scope="col">HTTP status</th>
            <th scope="col">Duration</th>
            <th scope="col">Error</th>
            <th scope="col">Response (first 1 KiB)</th>
          </tr>
        </thead>
        <tbody>
          {attempts.map((a) => (
            <tr>
              <td>{a.attempt}</td>
              <td>
                <Time ms={a.startedAt} />
              </td>
              <td>{a.statusCode ?? <span class="muted">none</span>}</td>
              <td>{a.durationMs} ms</td>
              <td>{a.error ?? <span class="muted">—</span>}</td>
              <td class="excerpt">
                {a.responseExcerpt ? <code>{a.responseExcerpt}</code> : <span class="muted">—</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </Scroll>
  )

/** Sends the event to one endpoint again, then comes back to the page the button was on. */
export const RedeliverForm = (props: { eventId: string; endpointId: string; csrf: string; returnTo: string }) => (
  <form method="post" action={`${eventPath(props.eventId)}/redeliver`}>
    <Csrf token={props.csrf} />
    <input type="hidden" name="endpoint_id" value={props.endpointId} />
    <input type="hidden" name="return_to" value={props.returnTo} />
    <button type="submit">Redeliver to this endpoint</button>
  </form>
)

// Where a redelivery may come back to: a path of ours only, never a URL from the form.
const RETURN_PATH = /^\/portal\/(events|transfers)\/[^/?#]+$/

export const EventPage = (props: {
  event: Event
  deliveries: { delivery: Delivery; attempts: DeliveryAttempt[] }[]
  csrf: string
  notice?: string
}) => {
  const { event } = props
  const body = renderEvent(event)
  const isTest = event.type === TEST_EVENT_TYPE
  return (
    <>
      <h1>
        Event <code>{event.id}</code>
      </h1>
      {props.notice && (
        <p class="notice" role="status">
          {props.notice}
        </p>
      )}
      <section class="panel" aria-labelledby="about">
        <h2 id="about">About</h2>
        <dl>
          <dt>Type</dt>
          <dd>
            <code>{event.type}</code>
            {isTest && ' (a test event: no transfer exists behind it)'}
          </dd>
          <dt>Transfer</dt>
          <dd>
            {isTest ? (
              <code>{event.transferId}</code>
            ) : (
              <a href={`/portal/transfers/${encodeURIComponent(event.transferId)}`}>{event.transferId}</a>
            )}
          </dd>
          <dt>Sequence</dt>
          <dd>{event.sequence}</dd>
          <dt>Previous status</dt>
          <dd>{body.data.previous_status ?? 'none'}</dd>
          <dt>Created</dt>
          <dd>
            <Time ms={event.createdAt} />
          </dd>
          <dt>Mode</dt>
          <dd>{body.livemode ? 'live' : 'test'}</dd>
        </dl>
      </section>
      <section aria-labelledby="payload">
        <h2 id="payload">Payload</h2>
        <p class="muted">The body every delivery POSTs, signed with the endpoint's secret.</p>
        <pre>{JSON.stringify(body, null, 2)}</pre>
      </section>
      <section aria-labelledby="deliveries">
        <h2 id="deliveries">Deliveries</h2>
        {props.deliveries.length === 0 ? (
          <p class="muted">No endpoint was subscribed to this event.</p>
        ) : (
          props.deliveries.map(({ delivery, attempts }) => (
            <section class="panel" aria-labelledby={`dlv-${delivery.id}`}>
              <h3 id={`dlv-${delivery.id}`}>
                To endpoint <a href={endpointPath(delivery.endpointId)}>{delivery.endpointId}</a>:{' '}
                <Status value={delivery.status} />
              </h3>
              <dl>
                <dt>Attempts</dt>
                <dd>{attempts.length}</dd>
                {delivery.status === 'pending' && (
                  <>
                    <dt>Next attempt</dt>
                    <dd>
                      <Time ms={delivery.nextAttemptAt} />
                    </dd>
                  </>
                )}
                {delivery.deliveredAt !== null && (
                  <>
                    <dt>Delivered</dt>
                    <dd>
                      <Time ms={delivery.deliveredAt} />
                    </dd>
                  </>
                )}
                {delivery.lastError && (
                  <>
                    <dt>Last error</dt>
                    <dd>{delivery.lastError}</dd>
                  </>
                )}
              </dl>
              <AttemptTable attempts={attempts} caption={`Attempts to ${delivery.endpointId}, oldest first`} />
              <RedeliverForm
                eventId={event.id}
                endpointId={delivery.endpointId}
                csrf={props.csrf}
                returnTo={eventPath(event.id)}
              />
            </section>
          ))
        )}
      </section>
    </>
  )
}

export const eventPages = new Hono<AppEnv>()

eventPages.get('/events/:event_id', async (c) => {
  const { event, deliveries } = await getEventWithDeliveries(
    c.get('services').db,
    c.get('partner'),
    c.req.param('event_id'),
  )
  const notice = c.req.query('redelivered')
    ? 'A new delivery was queued; it appears below as it is attempted (reload to follow it).'
    : undefined
  return c.html(
    page(c, {
      title: `Event ${event.id}`,
      section: 'endpoints',
      children: <EventPage event={event} deliveries={deliveries} csrf={c.get('portal').csrf} notice={notice} />,
    }),
  )
})

eventPages.post('/events/:event_id/redeliver', async (c) => {
  const form = await c.req.parseBody()
  const eventId = c.req.param('event_id')
  await redeliverEvent(c.get('services'), c.get('partner'), eventId, field(form, 'endpoint_id'))
  const returnTo = field(form, 'return_to')
  return c.redirect(`${returnTo && RETURN_PATH.test(returnTo) ? returnTo : eventPath(eventId)}?redelivered=1`, 303)
})
