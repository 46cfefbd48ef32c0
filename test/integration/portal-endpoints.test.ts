import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EventResource, EventWithDeliveries } from '../../src/schemas/callbacks'
import { openDb } from '../helpers/db'
import { createPartner, type Gateway, startGateway } from '../helpers/gateway'
import { type Receiver, startReceiver } from '../helpers/receiver'

/**
 * Test events (POST /v1/webhook-endpoints/{id}/test) and the portal's webhook endpoint and event
 * pages, over HTTP: every callback lands on a real local receiver that verifies it with the
 * `standardwebhooks` package; forms are posted as a browser would, with the CSRF token scraped
 * from the page.
 */

// Retries every second, without jitter, so schedules play out in a test's time.
const FAST = { WEBHOOK_RETRY_SCHEDULE_SECONDS: '1,1,1', WEBHOOK_RETRY_JITTER: '0', WEBHOOK_TIMEOUT_MS: '2000' }

let gateway: Gateway
let db: ReturnType<typeof openDb>
const receivers: Receiver[] = []

beforeAll(async () => {
  gateway = await startGateway({ vars: FAST })
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()))
  db?.close()
  await gateway?.close()
})

const until = <T>(fn: () => Promise<T> | T, timeout = 10_000) => expect.poll(fn, { timeout, interval: 100 })

const receiver = async () => {
  const r = await startReceiver()
  receivers.push(r)
  return r
}

type Partner = Awaited<ReturnType<typeof createPartner>>

/** An endpoint registered through the API, its receiver trusting its secret. */
const endpointFor = async (partner: Partner, eventTypes?: string[]) => {
  const r = await receiver()
  const res = await partner.call('POST', '/v1/webhook-endpoints', { url: r.url, event_types: eventTypes })
  expect(res.status).toBe(201)
  r.trust(res.body.secret)
  return { receiver: r, endpoint: res.body, secret: res.body.secret as string }
}

// ---- the portal, as a browser (no redirects followed) ----

const get = (path: string, cookie: string) =>
  fetch(`${gateway.url}${path}`, { redirect: 'manual', headers: { accept: 'text/html', cookie } })

const post = (path: string, form: [string, string][] | Record<string, string>, cookie: string) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  })

const login = async (partnerId: string) => {
  const link = await gateway.admin('POST', `/partners/${partnerId}/portal-sessions?mode=test`, {})
  expect(link.status).toBe(201)
  const res = await fetch(link.body.url.replace(/^https?:\/\/[^/]+/, gateway.url), { redirect: 'manual' })
  expect(res.status).toBe(303)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await (await get('/portal/endpoints', cookie)).text())![1]!
  return { cookie, csrf }
}

type Session = Awaited<ReturnType<typeof login>>

/** Posts a form of the page with the session's token, as the page's own form would. */
const submit = (session: Session, path: string, form: [string, string][] = []) =>
  post(path, [['_csrf', session.csrf], ...form], session.cookie)

const SECRET = /whsec_[A-Za-z0-9+/]{43}=/g

/** Every visible input and select sits inside a label; every table scrolls on a narrow screen. */
const expectAccessible = (html: string) => {
  for (const match of html.matchAll(/<(input|select)\b[^>]*>/g)) {
    if (/type="hidden"/.test(match[0])) continue
    const before = html.slice(0, match.index)
    expect(before.lastIndexOf('<label'), match[0]).toBeGreaterThan(before.lastIndexOf('</label>'))
  }
  // …in a named region the keyboard can scroll (layout.tsx's Scroll).
  for (const match of html.matchAll(/<table>/g))
    expect(html.slice(0, match.index)).toMatch(/<section class="scroll" aria-label="[^"]+" tabindex="0">$/)
  for (const th of html.match(/<th\b[^>]*>/g) ?? []) expect(th).toContain('scope="col"')
}

describe('test events (API)', () => {
  it('go to the endpoint named only, even one subscribed to other types, signed and verifiable', async () => {
    const partner = await createPartner(gateway)
    const a = await endpointFor(partner, ['transfer.completed'])
    const b = await endpointFor(partner)

    const sent = await partner.call('POST', `/v1/webhook-endpoints/${a.endpoint.id}/test`)
    expect(sent.status).toBe(201)
    expect(EventWithDeliveries.safeParse(sent.body).success).toBe(true)
    expect(sent.body).toMatchObject({
      object: 'event',
      type: 'transfer.test',
      livemode: false,
      transfer_id: 'tgw_test_transfer',
      sequence: 1,
      data: {
        object: { object: 'transfer', id: 'tgw_test_transfer', livemode: false, metadata: { test: 'true' } },
        previous_status: null,
      },
    })
    expect(sent.body.deliveries).toHaveLength(1)
    expect(sent.body.deliveries[0]).toMatchObject({ endpoint_id: a.endpoint.id, status: 'pending' })

    await until(() => a.receiver.verified().map((r) => r.id)).toEqual([sent.body.id])
    const got = a.receiver.verified()[0]!
    expect(got.verifiedWith).toEqual([a.secret])
    expect(EventResource.safeParse(got.body).success).toBe(true)
    expect(got.body).toEqual((({ deliveries: _, ...event }) => event)(sent.body))

    // B, subscribed to everything, got nothing: its own test event is the first thing it receives.
    const other = await partner.call('POST', `/v1/webhook-endpoints/${b.endpoint.id}/test`)
    expect(other.body.sequence).toBe(1) // about no transfer: each test event stands alone
    await until(() => b.receiver.received.length).toBe(1)
    expect(b.receiver.received[0]!.id).toBe(other.body.id)
    expect(a.receiver.received).toHaveLength(1)
    await until(async () => (await partner.call('GET', `/v1/events/${sent.body.id}`)).body.deliveries).toMatchObject([
      { endpoint_id: a.endpoint.id, status: 'delivered' },
    ])

    // Listed and filtered as events; no transfer exists behind them.
    const listed = await partner.call('GET', '/v1/events?type=transfer.test')
    expect(listed.body.data.map((e: { id: string }) => e.id)).toEqual([other.body.id, sent.body.id])
    expect((await partner.call('GET', '/v1/events?transfer_id=tgw_test_transfer')).body.data).toHaveLength(2)
    expect((await partner.call('GET', '/v1/transfers/tgw_test_transfer')).status).toBe(404)
    expect((await partner.call('GET', '/v1/transfers')).body.data).toEqual([])

    // Redelivered without naming an endpoint, it goes again only where it went.
    const again = await partner.call('POST', `/v1/events/${sent.body.id}/redeliver`, {})
    expect(again.status).toBe(202)
    expect(again.body.deliveries.map((d: { endpoint_id: string }) => d.endpoint_id)).toEqual([a.endpoint.id])
    await until(() => a.receiver.verified().length).toBe(2)
    expect(b.receiver.received).toHaveLength(1)
  })

  it('are refused for a disabled endpoint (409) and another partner’s (404), making no event', async () => {
    const partner = await createPartner(gateway)
    const { endpoint } = await endpointFor(partner)
    await partner.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: false })
    const refused = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`)
    expect(refused.status).toBe(409)
    expect(refused.body.code).toBe('webhook_endpoint_disabled')
    const stranger = await createPartner(gateway)
    const foreign = await stranger.call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`)
    expect(foreign.status).toBe(404)
    expect(foreign.body.code).toBe('webhook_endpoint_not_found')
    expect((await partner.call('GET', '/v1/events')).body.data).toEqual([])
    expect((await stranger.call('GET', '/v1/events')).body.data).toEqual([])
    // Enabled again, the same call works.
    await partner.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: true })
    expect((await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`)).status).toBe(201)
  })
})

describe('the portal’s webhook endpoints', () => {
  it('adds one showing its secret once, edits it, disables and enables it', async () => {
    const partner = await createPartner(gateway)
    const session = await login(partner.id)
    const r = await receiver()

    const list = await (await get('/portal/endpoints', session.cookie)).text()
    expect(list).toContain('<legend>Event types</legend>')
    expectAccessible(list)

    const created = await submit(session, '/portal/endpoints', [
      ['url', r.url],
      ['description', 'orders service'],
      ['event_types', 'transfer.completed'],
      ['event_types', 'transfer.failed'],
    ])
    expect(created.status).toBe(200)
    expect(created.headers.get('cache-control')).toBe('no-store')
    const page = await created.text()
    const secrets = page.match(SECRET) ?? []
    expect(secrets).toHaveLength(1)
    expect(page).toContain('shown only this once')
    const [endpoint] = (await partner.call('GET', '/v1/webhook-endpoints')).body.data
    expect(endpoint).toMatchObject({
      url: r.url,
      description: 'orders service',
      event_types: ['transfer.completed', 'transfer.failed'],
      enabled: true,
    })
    // The secret is the endpoint's: a test event sent with the API verifies with it.
    r.trust(secrets[0]!)
    await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`)
    await until(() => r.verified().length).toBe(1)
    // And it is never shown again.
    await until(async () => await (await get('/portal/endpoints', session.cookie)).text()).toContain(
      '100% delivered (1 of 1)',
    )
    const listed = await (await get('/portal/endpoints', session.cookie)).text()
    expect(listed).toContain(r.url)
    const detail = await (await get(`/portal/endpoints/${endpoint.id}`, session.cookie)).text()
    expect(detail.match(SECRET)).toBeNull()
    expect(listed.match(SECRET)).toBeNull()
    expectAccessible(detail)

    const edited = await submit(session, `/portal/endpoints/${endpoint.id}`, [
      ['url', `${r.url}/v2`],
      ['description', ''],
      ['event_types', '*'],
      ['event_types', 'transfer.failed'],
    ])
    expect(edited.status).toBe(303)
    expect(edited.headers.get('location')).toBe(`/portal/endpoints/${endpoint.id}?updated=1`)
    expect((await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body).toMatchObject({
      url: `${r.url}/v2`,
      description: null,
      event_types: null,
    })

    expect((await submit(session, `/portal/endpoints/${endpoint.id}/disable`)).status).toBe(303)
    expect((await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body).toMatchObject({
      enabled: false,
      disabled_reason: 'disabled by the partner',
    })
    expect(await (await get('/portal/endpoints', session.cookie)).text()).toContain('disabled by the partner')
    const refused = await submit(session, `/portal/endpoints/${endpoint.id}/test`)
    expect(refused.status).toBe(409)
    expect(await refused.text()).toContain('webhook_endpoint_disabled')
    expect((await submit(session, `/portal/endpoints/${endpoint.id}/enable`)).status).toBe(303)
    expect((await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body).toMatchObject({
      enabled: true,
      disabled_reason: null,
    })
  })

  it('refuses what the API refuses, with the same words, and makes nothing', async () => {
    const partner = await createPartner(gateway)
    const session = await login(partner.id)
    const bad = await submit(session, '/portal/endpoints', [['url', 'ftp://hooks.example.com/x']])
    expect(bad.status).toBe(422)
    const api = await partner.call('POST', '/v1/webhook-endpoints', { url: 'ftp://hooks.example.com/x' })
    expect(await bad.text()).toContain(api.body.detail)
    const unknown = await submit(session, '/portal/endpoints', [
      ['url', 'https://hooks.example.com/x'],
      ['event_types', 'transfer.nope'],
    ])
    expect(unknown.status).toBe(422)
    expect((await partner.call('GET', '/v1/webhook-endpoints')).body.data).toEqual([])
  })

  it('rotates the secret: old and new both verify during the grace, whose end the page shows', async () => {
    const partner = await createPartner(gateway)
    const session = await login(partner.id)
    const { receiver: r, endpoint, secret: old } = await endpointFor(partner)

    const rotated = await submit(session, `/portal/endpoints/${endpoint.id}/rotate-secret`, [['grace_seconds', '3600']])
    expect(rotated.status).toBe(200)
    const page = await rotated.text()
    const [fresh] = page.match(SECRET) ?? []
    expect(fresh).toBeDefined()
    expect(fresh).not.toBe(old)
    const graceEnd = (await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body
      .previous_secret_expires_at as string
    expect(Date.parse(graceEnd) - Date.now()).toBeGreaterThan(3500_000)
    expect(Date.parse(graceEnd) - Date.now()).toBeLessThanOrEqual(3600_000)
    expect(page).toContain(`datetime="${graceEnd}"`)
    r.trust(fresh!)

    // Sent from the portal, the test event carries both signatures.
    const sent = await submit(session, `/portal/endpoints/${endpoint.id}/test`)
    expect(sent.status).toBe(303)
    const location = sent.headers.get('location')!
    const eventId = new URL(location, gateway.url).searchParams.get('test_event')!
    expect(location.startsWith(`/portal/endpoints/${endpoint.id}?test_event=evt_`)).toBe(true)
    await until(() =>
      r
        .verified()
        .find((x) => x.id === eventId)
        ?.verifiedWith.sort(),
    ).toEqual([old, fresh].sort())

    // The result: the event id, linked, and its delivery's status.
    await until(async () => await (await get(location, session.cookie)).text()).toContain(
      'class="status status-delivered"',
    )
    const result = await (await get(location, session.cookie)).text()
    expect(result).toContain(`href="/portal/events/${eventId}"`)
    expect(result).toContain('Test event sent')
    expect(result).toContain(`datetime="${graceEnd}"`)

    // Rotating again within the grace keeps the first secret as the old one, until the same end.
    const again = await (
      await submit(session, `/portal/endpoints/${endpoint.id}/rotate-secret`, [['grace_seconds', '0']])
    ).text()
    expect(again.match(SECRET)).toHaveLength(1)
    expect(again).toContain(`datetime="${graceEnd}"`)
  })

  it('recovers failed deliveries since a time, once the endpoint is enabled again', async () => {
    const partner = await createPartner(gateway)
    const session = await login(partner.id)
    const { receiver: r, endpoint } = await endpointFor(partner)
    r.always({ status: 410, body: 'gone' })
    const sent = await submit(session, `/portal/endpoints/${endpoint.id}/test`)
    const eventId = new URL(sent.headers.get('location')!, gateway.url).searchParams.get('test_event')!
    await until(async () => (await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body).toMatchObject({
      enabled: false,
      disabled_reason: 'the receiver answered 410 Gone',
    })
    const since = new Date(Date.now() - 3600_000).toISOString().slice(0, 16)
    const refused = await submit(session, `/portal/endpoints/${endpoint.id}/recover`, [['since', since]])
    expect(refused.status).toBe(409)

    r.always({ status: 200, body: 'ok' })
    await submit(session, `/portal/endpoints/${endpoint.id}/enable`)
    // Failed before `since`: nothing to recover.
    const later = new Date(Date.now() + 60_000).toISOString().slice(0, 16)
    const none = await submit(session, `/portal/endpoints/${endpoint.id}/recover`, [['since', later]])
    expect(none.headers.get('location')).toBe(`/portal/endpoints/${endpoint.id}?recovered=0`)
    const recovered = await submit(session, `/portal/endpoints/${endpoint.id}/recover`, [['since', since]])
    expect(recovered.status).toBe(303)
    expect(recovered.headers.get('location')).toBe(`/portal/endpoints/${endpoint.id}?recovered=1`)
    expect(await (await get(recovered.headers.get('location')!, session.cookie)).text()).toContain(
      '1 failed delivery was queued again.',
    )
    await until(() => r.verified().filter((x) => x.id === eventId).length).toBe(2)

    // The event page shows both attempts: the 410 and the 200, with what the receiver answered.
    await until(async () => (await partner.call('GET', `/v1/events/${eventId}`)).body.deliveries[0].status).toBe(
      'delivered',
    )
    const page = await (await get(`/portal/events/${eventId}`, session.cookie)).text()
    expectAccessible(page)
    expect(page).toContain('&quot;type&quot;: &quot;transfer.test&quot;')
    expect(page).toMatch(/<td>410<\/td>[\s\S]*<code>gone<\/code>[\s\S]*<td>200<\/td>[\s\S]*<code>ok<\/code>/)
  })

  it('redelivers from the event page: a new attempt', async () => {
    const partner = await createPartner(gateway)
    const session = await login(partner.id)
    const { receiver: r, endpoint } = await endpointFor(partner)
    const sent = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`)
    await until(
      async () => (await partner.call('GET', `/v1/events/${sent.body.id}`)).body.deliveries[0].attempts,
    ).toHaveLength(1)

    const page = await (await get(`/portal/events/${sent.body.id}`, session.cookie)).text()
    const form = /<form method="post" action="([^"]+\/redeliver)">([\s\S]*?)<\/form>/.exec(page)!
    expect(form[1]).toBe(`/portal/events/${sent.body.id}/redeliver`)
    const fields = [...form[2]!.matchAll(/name="([^"]+)" value="([^"]+)"/g)].map(
      (m) => [m[1]!, m[2]!] as [string, string],
    )
    expect(Object.fromEntries(fields)).toMatchObject({
      _csrf: session.csrf,
      endpoint_id: endpoint.id,
      return_to: `/portal/events/${sent.body.id}`,
    })
    const redelivered = await post(form[1]!, fields, session.cookie)
    expect(redelivered.status).toBe(303)
    expect(redelivered.headers.get('location')).toBe(`/portal/events/${sent.body.id}?redelivered=1`)
    await until(
      async () => (await partner.call('GET', `/v1/events/${sent.body.id}`)).body.deliveries[0].attempts,
    ).toHaveLength(2)
    expect(r.verified().filter((x) => x.id === sent.body.id)).toHaveLength(2)
    expect(await (await get(`/portal/events/${sent.body.id}`, session.cookie)).text()).toMatch(
      /<td>1<\/td>[\s\S]*<td>200<\/td>[\s\S]*<td>1<\/td>[\s\S]*<td>200<\/td>/,
    )
  })

  it('another partner’s endpoint and event are 404, and its forms change nothing', async () => {
    const owner = await createPartner(gateway)
    const { endpoint, receiver: r } = await endpointFor(owner)
    const sent = await owner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/test`)
    await until(() => r.verified().length).toBe(1)
    const stranger = await createPartner(gateway)
    const session = await login(stranger.id)

    const page = await get(`/portal/endpoints/${endpoint.id}`, session.cookie)
    expect(page.status).toBe(404)
    expect(await page.text()).toContain('webhook_endpoint_not_found')
    const event = await get(`/portal/events/${sent.body.id}`, session.cookie)
    expect(event.status).toBe(404)
    expect(await event.text()).toContain('event_not_found')
    expect(await (await get('/portal/endpoints', session.cookie)).text()).not.toContain(endpoint.url)

    const before = await owner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)
    for (const verb of ['', '/disable', '/test', '/rotate-secret', '/recover']) {
      const res = await submit(session, `/portal/endpoints/${endpoint.id}${verb}`, [
        ['url', 'https://evil.example.com'],
        ['since', '2020-01-01T00:00'],
      ])
      expect(res.status, verb).toBe(404)
      expect(await res.text()).toContain('webhook_endpoint_not_found')
    }
    expect((await owner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body).toEqual(before.body)
    expect((await owner.call('GET', '/v1/events')).body.data).toHaveLength(1)
    expect((await stranger.call('GET', '/v1/events')).body.data).toEqual([])
    expect(r.received).toHaveLength(1)
  })

  it('a form without its CSRF token changes nothing', async () => {
    const partner = await createPartner(gateway)
    const session = await login(partner.id)
    const { endpoint, receiver: r } = await endpointFor(partner)
    const rows = async () =>
      JSON.stringify(
        await db.all(
          `SELECT (SELECT json_group_array(json_object('id', id, 'url', url, 'enabled', enabled, 'secret', secret))
             FROM webhook_endpoints WHERE partner_id = ?1) AS endpoints,
           (SELECT count(*) FROM events WHERE partner_id = ?1) AS events`,
          [partner.id],
        ),
      )
    const before = await rows()
    const attempts: [string, [string, string][]][] = [
      ['/portal/endpoints', [['url', 'https://hooks.example.com/new']]],
      [`/portal/endpoints/${endpoint.id}`, [['url', 'https://hooks.example.com/changed']]],
      [`/portal/endpoints/${endpoint.id}/disable`, []],
      [`/portal/endpoints/${endpoint.id}/rotate-secret`, [['grace_seconds', '0']]],
      [`/portal/endpoints/${endpoint.id}/test`, []],
    ]
    for (const [path, form] of attempts) {
      expect((await post(path, form, session.cookie)).status, path).toBe(403)
      expect((await post(path, [['_csrf', 'x'.repeat(64)], ...form], session.cookie)).status, path).toBe(403)
    }
    expect(await rows()).toBe(before)
    // The same forms with the token do change things (so the check above can fail).
    expect((await submit(session, `/portal/endpoints/${endpoint.id}/disable`)).status).toBe(303)
    expect(await rows()).not.toBe(before)
    expect(r.received).toHaveLength(0)
  })
})
