import type { z } from '@hono/zod-openapi'
import { Hono } from 'hono'
import type { Delivery, WebhookEndpoint } from '../../../db/schema'
import { createEndpoint, getEndpoint, listEndpoints, rotateSecret, updateEndpoint } from '../../callbacks/endpoints'
import { deliveryOutcomesByEndpoint, getEventWithDeliveries, recentDeliveriesTo } from '../../callbacks/event-history'
import { recoverEndpoint } from '../../callbacks/redelivery'
import { sendTestEvent } from '../../callbacks/test-events'
import type { AppEnv } from '../../middleware/app-env'
import {
  CreateEndpointBody,
  RecoverBody,
  RotateSecretBody,
  STATUS_EVENT_TYPES,
  UpdateEndpointBody,
} from '../../schemas/callbacks'
import { validationProblem } from '../validation'
import { endpointPath, eventPages, eventPath } from './events'
import { Csrf, field, page, Scroll, Status, Time } from './layout'

// Webhook endpoints for people: the same operations as /v1/webhook-endpoints (the same functions),
// as forms. Secrets are shown once, on the page that answers the form that made them.

const PAGE_SIZE = 50
const WEEK = 7 * 24 * 3600 * 1000
const HOUR = 3600

type Outcomes = { delivered: number; failed: number; pending: number }
type Form = Awaited<ReturnType<typeof formOf>>

const formOf = (c: { req: { parseBody: (o: { all: true }) => Promise<Record<string, unknown>> } }) =>
  c.req.parseBody({ all: true })

/** Checked boxes: none, "All events" (`*`) or every type checked mean every event (null), as in the API. */
const eventTypesOf = (form: Form): string[] | null => {
  const value = form.event_types
  const types = (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter(
    (v): v is string => typeof v === 'string',
  )
  return types.length === 0 || types.includes('*') ? null : types
}

/** The API's own request schema checks the form; a refusal is the same problem, shown as a page. */
const valid = <T extends z.ZodType>(schema: T, input: unknown): z.infer<T> => {
  const result = schema.safeParse(input)
  if (!result.success) throw validationProblem(result.error, 'form')
  return result.data
}

/** A `datetime-local` value is read as UTC (the page says so); a full ISO time is taken as it is. */
const sinceOf = (value: string | undefined) => {
  const local = value && /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2}(?:\.\d{1,3})?)?$/.exec(value)
  return local ? `${local[1]}${local[2] ?? ':00'}Z` : (value ?? '')
}

const localInput = (ms: number) => new Date(ms).toISOString().slice(0, 16)

const GRACE_CHOICES = [
  { seconds: 0, label: 'None: the old secret stops at once' },
  { seconds: HOUR, label: '1 hour' },
  { seconds: 24 * HOUR, label: '24 hours' },
  { seconds: 3 * 24 * HOUR, label: '3 days' },
  { seconds: 7 * 24 * HOUR, label: '7 days' },
]

const EventTypesText = ({ types }: { types: string[] | null }) =>
  types === null || types.includes('*') ? (
    <span>All events</span>
  ) : (
    <span>
      {types.map((t, i) => (
        <>
          {i > 0 && ', '}
          <code>{t}</code>
        </>
      ))}
    </span>
  )

const State = ({ endpoint }: { endpoint: WebhookEndpoint }) =>
  endpoint.enabled ? (
    <Status value="enabled" />
  ) : (
    <span>
      <Status value="disabled" />: {endpoint.disabledReason ?? 'disabled'}
    </span>
  )

const SuccessRate = ({ outcomes }: { outcomes: Outcomes | undefined }) => {
  if (!outcomes) return <span class="muted">No deliveries in 7 days</span>
  const settled = outcomes.delivered + outcomes.failed
  return (
    <span>
      {settled === 0
        ? 'None finished yet'
        : `${Math.round((outcomes.delivered / settled) * 1000) / 10}% delivered (${outcomes.delivered} of ${settled})`}
      {outcomes.pending > 0 && `, ${outcomes.pending} pending`}
    </span>
  )
}

const EventTypesFieldset = ({ selected }: { selected: string[] | null }) => {
  const all = selected === null || selected.includes('*')
  return (
    <fieldset>
      <legend>Event types</legend>
      <p class="muted">"All events" (or nothing checked) also receives event types added later.</p>
      <label class="check">
        <input type="checkbox" name="event_types" value="*" checked={all} />
        All events
      </label>
      {STATUS_EVENT_TYPES.map((type) => (
        <label class="check">
          <input type="checkbox" name="event_types" value={type} checked={!all && selected.includes(type)} />
          <code>{type}</code>
        </label>
      ))}
    </fieldset>
  )
}

const EndpointFields = ({ endpoint }: { endpoint?: WebhookEndpoint }) => (
  <>
    <label>
      URL (https; receives a POST per event)
      <input type="url" name="url" required maxlength={2048} value={endpoint?.url ?? ''} />
    </label>
    <label>
      Description (optional)
      <input name="description" maxlength={500} value={endpoint?.description ?? ''} />
    </label>
    <EventTypesFieldset selected={endpoint ? endpoint.eventTypes : null} />
  </>
)

const SecretOnce = ({ secret, children }: { secret: string; children?: unknown }) => (
  <section class="panel" aria-labelledby="secret">
    <h2 id="secret">Signing secret</h2>
    <p>
      <strong>Copy it now: it is shown only this once.</strong> Your receiver verifies every callback with it (Standard
      Webhooks, e.g. the <code>standardwebhooks</code> package). If it is lost, rotate it.
    </p>
    <p class="secret">
      <code>{secret}</code>
    </p>
    {children}
  </section>
)

export const EndpointList = (props: {
  rows: WebhookEndpoint[]
  hasMore: boolean
  outcomes: Map<string, Outcomes>
  csrf: string
}) => {
  const last = props.rows.at(-1)
  return (
    <>
      <h1>Webhook endpoints</h1>
      {props.rows.length === 0 ? (
        <p class="panel">No endpoint yet: add one below to receive callbacks.</p>
      ) : (
        <Scroll label="Webhook endpoints">
          <table>
            <caption>Your receivers, newest first</caption>
            <thead>
              <tr>
                <th scope="col">URL</th>
                <th scope="col">Description</th>
                <th scope="col">Event types</th>
                <th scope="col">State</th>
                <th scope="col">Delivered, last 7 days</th>
              </tr>
            </thead>
            <tbody>
              {props.rows.map((e) => (
                <tr>
                  <td class="url">
                    <a href={endpointPath(e.id)}>{e.url}</a>
                  </td>
                  <td>{e.description ?? <span class="muted">—</span>}</td>
                  <td>
                    <EventTypesText types={e.eventTypes} />
                  </td>
                  <td>
                    <State endpoint={e} />
                  </td>
                  <td>
                    <SuccessRate outcomes={props.outcomes.get(e.id)} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
      )}
      {props.hasMore && last && (
        <nav class="pager" aria-label="Pages">
          <a href={`/portal/endpoints?starting_after=${encodeURIComponent(last.id)}`}>Older endpoints</a>
        </nav>
      )}
      <section class="panel" aria-labelledby="add">
        <h2 id="add">Add an endpoint</h2>
        <form class="stack" method="post" action="/portal/endpoints">
          <Csrf token={props.csrf} />
          <EndpointFields />
          <div>
            <button type="submit">Add endpoint</button>
          </div>
        </form>
      </section>
    </>
  )
}

type Recent = { delivery: Delivery; type: string; transferId: string }[]
type TestResult = Awaited<ReturnType<typeof getEventWithDeliveries>>

const NOTICES: Record<string, string> = {
  updated: 'Saved.',
  enabled: 'Enabled: new events are delivered again. Recover what failed meanwhile below.',
  disabled: 'Disabled: it receives nothing until you enable it.',
}

const TestResultPanel = ({ result, endpointId }: { result: TestResult; endpointId: string }) => {
  const mine = result.deliveries.find((d) => d.delivery.endpointId === endpointId)
  const last = mine?.attempts.at(-1)
  return (
    <section class="notice" role="status" aria-labelledby="test-result">
      <h2 id="test-result">Test event sent</h2>
      <p>
        Event <a href={eventPath(result.event.id)}>{result.event.id}</a> ({result.event.type}): delivery{' '}
        {mine ? <Status value={mine.delivery.status} /> : <span class="muted">not found</span>}
        {last &&
          `, last attempt ${last.statusCode === null ? `failed: ${last.error ?? 'no answer'}` : `answered HTTP ${last.statusCode}`}`}
        .
      </p>
      {mine?.delivery.status === 'pending' && (
        <p class="muted">Reload this page, or open the event, to follow its attempts.</p>
      )}
    </section>
  )
}

export const EndpointPage = (props: {
  endpoint: WebhookEndpoint
  outcomes: Outcomes | undefined
  recent: Recent
  csrf: string
  now: number
  defaultGrace: number
  notices: string[]
  test: TestResult | null
}) => {
  const { endpoint: e, csrf } = props
  const action = (verb: string) => `${endpointPath(e.id)}/${verb}`
  const inGrace = e.previousSecret !== null && (e.previousSecretExpiresAt ?? 0) > props.now
  return (
    <>
      <h1>
        Endpoint <code>{e.id}</code>
      </h1>
      <p>
        <a href="/portal/endpoints">All endpoints</a>
      </p>
      {props.notices.map((n) => (
        <p class="notice" role="status">
          {n}
        </p>
      ))}
      {props.test && <TestResultPanel result={props.test} endpointId={e.id} />}
      <section class="panel" aria-labelledby="summary">
        <h2 id="summary">Summary</h2>
        <dl>
          <dt>URL</dt>
          <dd class="url">{e.url}</dd>
          <dt>Description</dt>
          <dd>{e.description ?? '—'}</dd>
          <dt>Event types</dt>
          <dd>
            <EventTypesText types={e.eventTypes} />
          </dd>
          <dt>State</dt>
          <dd>
            <State endpoint={e} />
            {e.disabledAt !== null && !e.enabled && (
              <>
                {' '}
                since <Time ms={e.disabledAt} />
              </>
            )}
          </dd>
          <dt>Failing since</dt>
          <dd>
            <Time ms={e.failingSince} />
          </dd>
          <dt>Delivered, last 7 days</dt>
          <dd>
            <SuccessRate outcomes={props.outcomes} />
          </dd>
          <dt>Signing secrets</dt>
          <dd>
            {inGrace ? (
              <>
                Rotated: the previous secret also signs until <Time ms={e.previousSecretExpiresAt} />
              </>
            ) : (
              'One'
            )}
          </dd>
          <dt>Created</dt>
          <dd>
            <Time ms={e.createdAt} />
          </dd>
        </dl>
      </section>

      <section class="panel" aria-labelledby="test">
        <h2 id="test">Send a test event</h2>
        <p>
          A <code>transfer.test</code> event with a sample transfer goes to this endpoint only (whatever its event
          types), signed and retried like any other.
        </p>
        {e.enabled ? (
          <form method="post" action={action('test')}>
            <Csrf token={csrf} />
            <button type="submit">Send test event</button>
          </form>
        ) : (
          <p class="muted">Enable the endpoint first.</p>
        )}
      </section>

      <section class="panel" aria-labelledby="edit">
        <h2 id="edit">Edit</h2>
        <form class="stack" method="post" action={endpointPath(e.id)}>
          <Csrf token={csrf} />
          <EndpointFields endpoint={e} />
          <div>
            <button type="submit">Save</button>
          </div>
        </form>
      </section>

      <section class="panel" aria-labelledby="state">
        <h2 id="state">{e.enabled ? 'Disable' : 'Enable'}</h2>
        {e.enabled ? (
          <form method="post" action={action('disable')}>
            <Csrf token={csrf} />
            <p>A disabled endpoint receives nothing, and nothing is kept for it to recover.</p>
            <button type="submit">Disable endpoint</button>
          </form>
        ) : (
          <form method="post" action={action('enable')}>
            <Csrf token={csrf} />
            <p>Enabling clears the reason and the failure clock; then recover what failed meanwhile.</p>
            <button type="submit">Enable endpoint</button>
          </form>
        )}
      </section>

      <section class="panel" aria-labelledby="rotate">
        <h2 id="rotate">Rotate the signing secret</h2>
        <form class="stack" method="post" action={action('rotate-secret')}>
          <Csrf token={csrf} />
          <label>
            Old secret keeps signing alongside the new one for
            <select name="grace_seconds">
              {GRACE_CHOICES.map((g) => (
                <option value={String(g.seconds)} selected={g.seconds === props.defaultGrace}>
                  {g.label}
                </option>
              ))}
            </select>
          </label>
          <p class="muted">
            Rotating again within that time keeps the original secret as the old one until its grace ends.
          </p>
          <div>
            <button type="submit">Rotate secret</button>
          </div>
        </form>
      </section>

      <section class="panel" aria-labelledby="recover">
        <h2 id="recover">Recover failed deliveries</h2>
        {e.enabled ? (
          <form class="stack" method="post" action={action('recover')}>
            <Csrf token={csrf} />
            <label>
              Sends again every delivery that failed since (UTC)
              <input
                type="datetime-local"
                name="since"
                required
                step="1"
                value={localInput(props.now - 24 * HOUR * 1000)}
              />
            </label>
            <div>
              <button type="submit">Recover</button>
            </div>
          </form>
        ) : (
          <p class="muted">Enable the endpoint first.</p>
        )}
      </section>

      <section aria-labelledby="recent">
        <h2 id="recent">Latest deliveries</h2>
        {props.recent.length === 0 ? (
          <p class="muted">Nothing delivered to this endpoint yet.</p>
        ) : (
          <Scroll label="Latest deliveries">
            <table>
              <caption>Its 20 most recently changed deliveries</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Type</th>
                  <th scope="col">Transfer</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Last change</th>
                  <th scope="col">Last error</th>
                </tr>
              </thead>
              <tbody>
                {props.recent.map(({ delivery: d, type, transferId }) => (
                  <tr>
                    <td>
                      <a href={eventPath(d.eventId)}>{d.eventId}</a>
                    </td>
                    <td>
                      <code>{type}</code>
                    </td>
                    <td>{transferId}</td>
                    <td>
                      <Status value={d.status} />
                    </td>
                    <td>{d.attempts}</td>
                    <td>
                      <Time ms={d.updatedAt} />
                    </td>
                    <td>{d.lastError ?? <span class="muted">—</span>}</td>
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

const SecretPage = (props: { endpoint: WebhookEndpoint; secret: string; created: boolean; now: number }) => {
  const e = props.endpoint
  const graceEnd = e.previousSecret ? e.previousSecretExpiresAt : null
  return (
    <>
      <h1>{props.created ? 'Endpoint added' : 'Secret rotated'}</h1>
      <p>
        Endpoint <a href={endpointPath(e.id)}>{e.url}</a> (<code>{e.id}</code>).
      </p>
      <SecretOnce secret={props.secret}>
        {!props.created &&
          (graceEnd !== null && graceEnd > props.now ? (
            <p>
              The old secret keeps signing alongside it until <Time ms={graceEnd} />: update your receiver before then.
            </p>
          ) : (
            <p>The old secret no longer signs.</p>
          ))}
      </SecretOnce>
      <p>
        <a href={endpointPath(e.id)}>Continue to the endpoint</a>
      </p>
    </>
  )
}

export const endpointPages = new Hono<AppEnv>()

endpointPages.get('/endpoints', async (c) => {
  const { db, now } = c.get('services')
  const [{ rows, hasMore }, outcomes] = await Promise.all([
    listEndpoints(db, c.get('partner'), PAGE_SIZE, c.req.query('starting_after') || undefined),
    deliveryOutcomesByEndpoint(db, c.get('partner'), now() - WEEK),
  ])
  return c.html(
    page(c, {
      title: 'Webhook endpoints',
      section: 'endpoints',
      children: <EndpointList rows={rows} hasMore={hasMore} outcomes={outcomes} csrf={c.get('portal').csrf} />,
    }),
  )
})

endpointPages.post('/endpoints', async (c) => {
  const { db, settings, now } = c.get('services')
  const form = await formOf(c)
  const input = valid(CreateEndpointBody, {
    url: field(form, 'url') ?? '',
    event_types: eventTypesOf(form),
    description: field(form, 'description') ?? null,
  })
  const { endpoint, secret } = await createEndpoint(db, settings, c.get('partner'), input, now())
  c.get('audit').about({ objectId: endpoint.id })
  c.header('cache-control', 'no-store')
  return c.html(
    page(c, {
      title: 'Endpoint added',
      section: 'endpoints',
      children: <SecretPage endpoint={endpoint} secret={secret} created now={now()} />,
    }),
  )
})

endpointPages.get('/endpoints/:endpoint_id', async (c) => {
  const { db, settings, now } = c.get('services')
  const at = now()
  const endpoint = await getEndpoint(db, c.get('partner'), c.req.param('endpoint_id'))
  const testEventId = c.req.query('test_event')
  const [outcomes, recent, test] = await Promise.all([
    deliveryOutcomesByEndpoint(db, c.get('partner'), at - WEEK),
    recentDeliveriesTo(db, c.get('partner'), endpoint.id, 20),
    // Only the partner's own events are found; a stale or made-up id just shows no result.
    testEventId ? getEventWithDeliveries(db, c.get('partner'), testEventId).catch(() => null) : null,
  ])
  const query = c.req.query()
  const notices = Object.keys(NOTICES)
    .filter((k) => query[k])
    .map((k) => NOTICES[k]!)
  if (query.recovered !== undefined) {
    const count = Number.parseInt(query.recovered, 10) || 0
    notices.push(
      `${count} failed ${count === 1 ? 'delivery was' : 'deliveries were'} queued again.${query.has_more ? ' More matched: recover again to send the rest.' : ''}`,
    )
  }
  return c.html(
    page(c, {
      title: `Endpoint ${endpoint.url}`,
      section: 'endpoints',
      children: (
        <EndpointPage
          endpoint={endpoint}
          outcomes={outcomes.get(endpoint.id)}
          recent={recent}
          csrf={c.get('portal').csrf}
          now={at}
          defaultGrace={settings.WEBHOOK_SECRET_GRACE_SECONDS}
          notices={notices}
          test={test}
        />
      ),
    }),
  )
})

endpointPages.post('/endpoints/:endpoint_id', async (c) => {
  const { db, settings, now } = c.get('services')
  const form = await formOf(c)
  const input = valid(UpdateEndpointBody, {
    url: field(form, 'url') ?? '',
    event_types: eventTypesOf(form),
    description: field(form, 'description') ?? null,
  })
  const row = await updateEndpoint(db, settings, c.get('partner'), c.req.param('endpoint_id'), input, now())
  return c.redirect(`${endpointPath(row.id)}?updated=1`, 303)
})

for (const [verb, enabled] of [
  ['enable', true],
  ['disable', false],
] as const) {
  endpointPages.post(`/endpoints/:endpoint_id/${verb}`, async (c) => {
    const { db, settings, now } = c.get('services')
    const row = await updateEndpoint(db, settings, c.get('partner'), c.req.param('endpoint_id'), { enabled }, now())
    return c.redirect(`${endpointPath(row.id)}?${enabled ? 'enabled' : 'disabled'}=1`, 303)
  })
}

endpointPages.post('/endpoints/:endpoint_id/rotate-secret', async (c) => {
  const { db, settings, now } = c.get('services')
  const form = await formOf(c)
  const given = field(form, 'grace_seconds')
  const { grace_seconds } = valid(RotateSecretBody, {
    grace_seconds: given === undefined ? undefined : Number(given),
  })
  const at = now()
  const { endpoint, secret } = await rotateSecret(
    db,
    settings.ENCRYPTION_KEY,
    c.get('partner'),
    c.req.param('endpoint_id'),
    grace_seconds ?? settings.WEBHOOK_SECRET_GRACE_SECONDS,
    at,
  )
  c.header('cache-control', 'no-store')
  return c.html(
    page(c, {
      title: 'Secret rotated',
      section: 'endpoints',
      children: <SecretPage endpoint={endpoint} secret={secret} created={false} now={at} />,
    }),
  )
})

endpointPages.post('/endpoints/:endpoint_id/test', async (c) => {
  const { event } = await sendTestEvent(c.get('services'), c.get('partner'), c.req.param('endpoint_id'))
  return c.redirect(
    `${endpointPath(c.req.param('endpoint_id'))}?test_event=${encodeURIComponent(event.id)}#test-result`,
    303,
  )
})

endpointPages.post('/endpoints/:endpoint_id/recover', async (c) => {
  const form = await formOf(c)
  const { since } = valid(RecoverBody, { since: sinceOf(field(form, 'since')) })
  const id = c.req.param('endpoint_id')
  const { requeued, hasMore } = await recoverEndpoint(c.get('services'), c.get('partner'), id, Date.parse(since))
  return c.redirect(`${endpointPath(id)}?recovered=${requeued}${hasMore ? '&has_more=1' : ''}`, 303)
})

// The event page (events.tsx) is served from here, so the portal's one mount of this file covers it.
endpointPages.route('/', eventPages)
