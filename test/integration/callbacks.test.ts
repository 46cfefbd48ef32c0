import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { startReceiver } from '../helpers/receiver'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

// Retries every second, without jitter, so schedules play out in a test's time.
const FAST = { WEBHOOK_RETRY_SCHEDULE_SECONDS: '1,1,1,1,1,1,1', WEBHOOK_RETRY_JITTER: '0', WEBHOOK_TIMEOUT_MS: '2000' }

let gateway: Gateway
let sfox: SfoxSandbox

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([startGateway({ vars: FAST }), startSfox()])
  await sfox.settings({ rate_limit: { enabled: false } })
})
afterAll(async () => {
  await gateway?.close()
  await sfox?.close()
})

const until = <T>(fn: () => Promise<T> | T, timeout = 10_000) => expect.poll(fn, { timeout, interval: 100 })

/**
 * The sweeper trusts a queue message for SWEEP_REENQUEUE_AFTER_SECONDS before sending another; a test whose
 * messages are lost skips that wait by ageing the partner's marks, as if they were sent a day ago.
 */
const A_DAY_MS = 86_400_000
const ageQueueMarks = async (dbUrl: string, partnerId: string) => {
  const db = openDb(dbUrl)
  try {
    await db.all(
      'UPDATE deliveries SET enqueued_at = enqueued_at - ? WHERE partner_id = ? AND enqueued_at IS NOT NULL',
      [A_DAY_MS, partnerId],
    )
  } finally {
    await db.close()
  }
}

/** Each event of a transfer (oldest first) with its deliveries, as the partner reads them. */
const eventsOf = async (partner: { call: (m: string, path: string) => Promise<any> }, transferId: string) => {
  const { data } = (await partner.call('GET', `/v1/events?transfer_id=${transferId}`)).body
  return Promise.all(
    data.reverse().map(async (e: any) => (await partner.call('GET', `/v1/events/${e.id}`)).body),
  ) as Promise<any[]>
}

/** A partner with an sFOX connection and one receiver registered for every event. */
const setup = async (options: { limits?: Record<string, number | null>; eventTypes?: string[] } = {}) => {
  const partner = await createSfoxPartner(gateway, sfox, options.limits)
  const receiver = await startReceiver()
  const endpoint = await partner.call('POST', '/v1/webhook-endpoints', {
    url: receiver.url,
    event_types: options.eventTypes,
    description: 'tests',
  })
  expect(endpoint.status).toBe(201)
  receiver.trust(endpoint.body.secret)
  return { partner, receiver, endpoint: endpoint.body }
}

const completePayment = async (partner: Awaited<ReturnType<typeof createSfoxPartner>>, id: string) => {
  const { body: t } = await partner.call('POST', '/v1/transfers', paymentBody(id))
  await partner.call('POST', `/v1/transfers/${id}/confirm`, { code: await sfox.latestCode(t.provider_reference) })
  return t
}

describe('webhook endpoints', () => {
  it('are created with a whsec_ secret shown once, read, updated and deleted', async () => {
    const p = await createPartner(gateway)
    const created = await p.call('POST', '/v1/webhook-endpoints', {
      url: 'https://hooks.example.com/tgw',
      event_types: ['transfer.completed'],
    })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      object: 'webhook_endpoint',
      url: 'https://hooks.example.com/tgw',
      event_types: ['transfer.completed'],
      enabled: true,
      disabled_reason: null,
    })
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(created.body.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24)
    const id = created.body.id
    const read = await p.call('GET', `/v1/webhook-endpoints/${id}`)
    expect(read.body).not.toHaveProperty('secret')
    expect(JSON.stringify((await p.call('GET', '/v1/webhook-endpoints')).body)).not.toContain(created.body.secret)
    const patched = await p.call('PATCH', `/v1/webhook-endpoints/${id}`, {
      event_types: null,
      enabled: false,
      description: 'paused',
    })
    expect(patched.body).toMatchObject({
      event_types: null,
      enabled: false,
      disabled_reason: 'disabled by the partner',
      description: 'paused',
    })
    expect((await p.call('PATCH', `/v1/webhook-endpoints/${id}`, { enabled: true })).body).toMatchObject({
      enabled: true,
      disabled_reason: null,
    })
    expect((await p.call('DELETE', `/v1/webhook-endpoints/${id}`)).body).toEqual({
      object: 'webhook_endpoint',
      id,
      deleted: true,
    })
    expect((await p.call('GET', `/v1/webhook-endpoints/${id}`)).body.code).toBe('webhook_endpoint_not_found')
    const other = await createPartner(gateway)
    expect((await other.call('GET', `/v1/webhook-endpoints/${id}`)).status).toBe(404)
    expect(
      (await p.call('POST', '/v1/webhook-endpoints', { url: 'https://x.example.com', event_types: ['transfer.nope'] }))
        .status,
    ).toBe(422)
  })

  it('refuse unsafe URLs unless the deployment allows them', async () => {
    const strict = await startGateway({
      vars: { WEBHOOK_ALLOW_HTTP: 'false', WEBHOOK_ALLOW_PRIVATE_HOSTS: 'false' },
      database: gateway.database,
    })
    try {
      const p = await createPartner(strict)
      for (const url of [
        'http://hooks.example.com/x',
        'https://user:pw@hooks.example.com/x',
        'https://localhost/x',
        'https://127.0.0.1/x',
        'https://10.1.2.3/x',
        'https://192.168.0.10/x',
        'https://172.20.0.1/x',
        'https://169.254.169.254/latest/meta-data',
        'https://100.64.1.1/x',
        'https://[::1]/x',
        'https://[fe80::1]/x',
        'https://[::ffff:127.0.0.1]/x',
        'ftp://hooks.example.com',
        'not a url',
      ]) {
        const res = await p.call('POST', '/v1/webhook-endpoints', { url })
        expect(res.status, url).toBe(422)
        expect(res.body.errors[0]).toMatchObject({ field: 'url', code: 'url_not_allowed' })
      }
      expect((await p.call('POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/x' })).status).toBe(201)
      const { body: ok } = await p.call('POST', '/v1/webhook-endpoints', { url: 'https://hooks.example.com/y' })
      expect((await p.call('PATCH', `/v1/webhook-endpoints/${ok.id}`, { url: 'https://127.0.0.1/x' })).status).toBe(422)
    } finally {
      await strict.close()
    }
  })
})

describe('events and their delivery', () => {
  it('every status change sends exactly its events, signed (standardwebhooks), in sequence', async () => {
    const { partner, receiver } = await setup()
    await completePayment(partner, 'cb-1')
    await partner.call('POST', '/v1/transfers', paymentBody('cb-2', { type: 'PAYOUT' }))
    await partner.call('POST', '/v1/transfers', paymentBody('cb-3'))
    await partner.call('POST', '/v1/transfers/cb-3/cancel')
    await until(() => receiver.received.length).toBe(6)
    expect(receiver.verified()).toHaveLength(6)
    const byTransfer = (id: string) =>
      receiver.received.filter((r) => r.body.transfer_id === id).sort((a, b) => a.body.sequence - b.body.sequence)
    expect(
      byTransfer('cb-1').map((r) => [
        r.body.sequence,
        r.body.type,
        r.body.data.previous_status,
        r.body.data.object.status,
      ]),
    ).toEqual([
      [1, 'transfer.created', null, 'pending_verification'],
      [2, 'transfer.completed', 'pending_verification', 'completed'],
    ])
    expect(byTransfer('cb-2').map((r) => [r.body.sequence, r.body.type, r.body.data.object.status])).toEqual([
      [1, 'transfer.created', 'completed'],
      [2, 'transfer.completed', 'completed'],
    ])
    expect(byTransfer('cb-3').map((r) => r.body.type)).toEqual(['transfer.created', 'transfer.canceled'])
    for (const r of receiver.received) {
      expect(r.id).toBe(r.body.id)
      expect(r.body).toMatchObject({
        object: 'event',
        id: expect.stringMatching(/^evt_/),
        created_at: expect.any(String),
      })
      expect(Math.abs(Number(r.timestamp) - Date.now() / 1000)).toBeLessThan(60)
    }

    const listed = await partner.call('GET', '/v1/events?limit=100')
    expect(listed.body.data).toHaveLength(6)
    expect((await partner.call('GET', '/v1/events?transfer_id=cb-1')).body.data.map((e: any) => e.type)).toEqual([
      'transfer.completed',
      'transfer.created',
    ])
    expect((await partner.call('GET', '/v1/events?type=transfer.canceled')).body.data).toHaveLength(1)
    const page = await partner.call('GET', '/v1/events?limit=4')
    const rest = await partner.call('GET', `/v1/events?limit=4&starting_after=${page.body.data[3].id}`)
    expect(page.body.has_more).toBe(true)
    expect(rest.body.data).toHaveLength(2)
    // An event read through the API is the same document the receiver got.
    const one = await partner.call('GET', `/v1/events/${byTransfer('cb-1')[1]!.id}`)
    const { deliveries, ...event } = one.body
    expect(event).toEqual(byTransfer('cb-1')[1]!.body)
    expect(deliveries).toHaveLength(1)
    expect(deliveries[0]).toMatchObject({
      status: 'delivered',
      attempts: [{ attempt: 1, status_code: 200, error: null, response: 'ok' }],
    })
  })

  it('only subscribed types are sent', async () => {
    const { partner, receiver } = await setup({ eventTypes: ['transfer.completed'] })
    await completePayment(partner, 'sub-1')
    await until(() => receiver.received.length).toBe(1)
    // Deliveries are written with their event: the unsubscribed one has none, so nothing can ever send it.
    const [created, completed] = await eventsOf(partner, 'sub-1')
    expect(created).toMatchObject({ type: 'transfer.created', deliveries: [] })
    expect(completed).toMatchObject({ type: 'transfer.completed', deliveries: [{ status: 'delivered' }] })
    expect(completed.deliveries[0].attempts).toHaveLength(1)
    expect(receiver.received.map((r) => r.body.type)).toEqual(['transfer.completed'])
  })

  it('a receiver that fails for a while then recovers receives everything, in a recoverable order', async () => {
    const { partner, receiver } = await setup()
    receiver.reply({ status: 500, body: 'boom' }, { status: 500 }, { status: 502 })
    await completePayment(partner, 'retry-1')
    await until(
      () => receiver.received.filter((r) => r.verifiedWith.length && r.body.transfer_id === 'retry-1').length >= 5,
      15_000,
    ).toBe(true)
    const ok = new Map<string, any>()
    await until(async () => {
      const events = (await partner.call('GET', '/v1/events?transfer_id=retry-1')).body.data
      const details = await Promise.all(events.map((e: any) => partner.call('GET', `/v1/events/${e.id}`)))
      details.forEach((d) => ok.set(d.body.id, d.body))
      return details.every((d) => d.body.deliveries[0]?.status === 'delivered')
    }, 15_000).toBe(true)
    // The failed attempts are on record with status and the start of the answer.
    const attempts = [...ok.values()].flatMap((e) => e.deliveries[0].attempts)
    expect(
      attempts
        .map((a: any) => a.status_code)
        .filter((s: number) => s !== 200)
        .sort(),
    ).toEqual([500, 500, 502])
    expect(attempts.find((a: any) => a.status_code === 500 && a.response === 'boom')).toBeTruthy()
    // Sorting by sequence restores the order whatever the arrival order.
    const distinct = [...new Map(receiver.received.map((r) => [r.id, r.body])).values()]
    expect(distinct.sort((a, b) => a.sequence - b.sequence).map((e) => e.type)).toEqual([
      'transfer.created',
      'transfer.completed',
    ])
  })

  it('honours Retry-After', async () => {
    const { partner, receiver } = await setup()
    receiver.reply({ status: 503, headers: { 'retry-after': '3' } })
    await partner.call('POST', '/v1/transfers', paymentBody('ra-1'))
    await until(() => receiver.received.length, 15_000).toBe(2)
    const gap = receiver.received[1]!.at - receiver.received[0]!.at
    expect(gap).toBeGreaterThanOrEqual(2800)
  })

  it('410 Gone disables the endpoint, and the partner can see why', async () => {
    const { partner, receiver, endpoint } = await setup()
    receiver.reply({ status: 410 })
    await partner.call('POST', '/v1/transfers', paymentBody('gone-1'))
    await until(async () => (await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.enabled).toBe(
      false,
    )
    const after = await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)
    expect(after.body.disabled_reason).toBe('the receiver answered 410 Gone')
    await partner.call('POST', '/v1/transfers', paymentBody('gone-2'))
    // What happens while the gateway keeps it disabled is recorded as failed, saying why, not lost; written so
    // with the event, it is never attempted (only pending deliveries are sent).
    const [missed] = await eventsOf(partner, 'gone-2')
    expect(missed.deliveries).toEqual([expect.objectContaining({ status: 'failed', attempts: [] })])
    expect(JSON.stringify(missed)).toContain('endpoint disabled: the receiver answered 410 Gone')
    // The 410 itself was the one attempt at gone-1's event: failed, nothing left to retry.
    const [gone1] = await eventsOf(partner, 'gone-1')
    expect(gone1.deliveries).toEqual([expect.objectContaining({ status: 'failed' })])
    expect(gone1.deliveries[0].attempts).toHaveLength(1)
    expect(receiver.received).toHaveLength(1)
    // Recovery needs the endpoint enabled again; then it delivers what failed, including what it missed.
    const refused = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/recover`, {
      since: new Date(Date.now() - 60_000).toISOString(),
    })
    expect(refused.body.code).toBe('webhook_endpoint_disabled')
    receiver.reply({ status: 200 })
    await partner.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: true })
    const recovered = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/recover`, {
      since: new Date(Date.now() - 60_000).toISOString(),
    })
    expect(recovered.status).toBe(202)
    expect(recovered.body.deliveries_requeued).toBe(2)
    await until(() => receiver.received.length).toBe(3)
    expect(
      receiver.received
        .slice(1)
        .map((r) => r.body.transfer_id)
        .sort(),
    ).toEqual(['gone-1', 'gone-2'])
    // An endpoint the partner disabled itself gets nothing while disabled (its choice).
    await partner.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: false })
    await partner.call('POST', '/v1/transfers', paymentBody('gone-3'))
    const [quiet] = (await partner.call('GET', '/v1/events?transfer_id=gone-3')).body.data
    expect((await partner.call('GET', `/v1/events/${quiet.id}`)).body.deliveries).toEqual([])
  })

  it('an endpoint that fails every attempt for the configured time is disabled', async () => {
    const slow = await startGateway({
      vars: { ...FAST, WEBHOOK_DISABLE_AFTER_SECONDS: '2' },
      database: gateway.database,
    })
    try {
      const partner = await createSfoxPartner(slow, sfox)
      const receiver = await startReceiver()
      receiver.always({ status: 500 })
      const { body: endpoint } = await partner.call('POST', '/v1/webhook-endpoints', { url: receiver.url })
      await partner.call('POST', '/v1/transfers', paymentBody('fail-days'))
      await until(
        async () => (await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.enabled,
        15_000,
      ).toBe(false)
      const after = await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)
      expect(after.body.disabled_reason).toMatch(/^every delivery failed for/)
      expect(after.body.failing_since).not.toBeNull()
      await receiver.close()
    } finally {
      await slow.close()
    }
  })

  it('an endpoint whose secret cannot be opened is disabled without sending; rotating and enabling it recovers', async () => {
    // A deployment with another ENCRYPTION_KEY on the same database seals the endpoint's secret.
    const other = await startGateway({
      vars: { ...FAST, ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') },
      database: gateway.database,
    })
    try {
      const partner = await createSfoxPartner(gateway, sfox)
      const receiver = await startReceiver()
      const { body: endpoint } = await other.request('POST', '/v1/webhook-endpoints', {
        body: { url: receiver.url },
        key: partner.key,
      })
      await partner.call('POST', '/v1/transfers', paymentBody('sealed-1'))
      await until(async () => (await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.enabled).toBe(
        false,
      )
      expect((await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.disabled_reason).toMatch(
        /signing secret cannot be decrypted/,
      )
      expect(receiver.received).toHaveLength(0)
      const rotated = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {})
      await partner.call('PATCH', `/v1/webhook-endpoints/${endpoint.id}`, { enabled: true })
      receiver.trust(rotated.body.secret)
      await partner.call('POST', '/v1/transfers', paymentBody('sealed-2'))
      await until(() => receiver.received.length).toBe(1)
      expect(receiver.received[0]!.verifiedWith).toEqual([rotated.body.secret])
      await receiver.close()
    } finally {
      await other.close()
    }
  })

  it('a URL the deployment no longer allows is not called: the endpoint is disabled, saying why', async () => {
    const strict = await startGateway({
      vars: { ...FAST, WEBHOOK_ALLOW_HTTP: 'false', WEBHOOK_ALLOW_PRIVATE_HOSTS: 'false' },
      database: gateway.database,
    })
    try {
      const { partner, receiver, endpoint } = await setup()
      await strict.request('POST', '/v1/transfers', { body: paymentBody('policy-1'), key: partner.key })
      await until(async () => (await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.enabled).toBe(
        false,
      )
      expect((await partner.call('GET', `/v1/webhook-endpoints/${endpoint.id}`)).body.disabled_reason).toBe(
        'the URL is no longer allowed: it must use https',
      )
      expect(receiver.received).toHaveLength(0)
    } finally {
      await strict.close()
    }
  })

  it('after rotation, callbacks carry signatures of both secrets for the grace period', async () => {
    const { partner, receiver, endpoint } = await setup()
    const oldSecret = endpoint.secret
    const rotated = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
      grace_seconds: 2,
    })
    expect(rotated.status).toBe(200)
    expect(rotated.body.secret).not.toBe(oldSecret)
    expect(rotated.body.previous_secret_expires_at).not.toBeNull()
    receiver.trust(rotated.body.secret)
    await partner.call('POST', '/v1/transfers', paymentBody('rot-1'))
    await until(() => receiver.received.length).toBe(1)
    expect(receiver.received[0]!.signature.split(' ')).toHaveLength(2)
    expect(receiver.received[0]!.verifiedWith.sort()).toEqual([oldSecret, rotated.body.secret].sort())
    // Wait for the moment itself: the old secret's grace has ended.
    const graceEnds = Date.parse(rotated.body.previous_secret_expires_at)
    await expect.poll(() => Date.now(), { timeout: 10_000, interval: 20 }).toBeGreaterThan(graceEnds)
    await partner.call('POST', '/v1/transfers', paymentBody('rot-2'))
    await until(() => receiver.received.length).toBe(2)
    expect(receiver.received[1]!.verifiedWith).toEqual([rotated.body.secret])
  })

  it('rotating again inside the grace period keeps the original secret signing until its grace ends', async () => {
    const { partner, receiver, endpoint } = await setup()
    const original = endpoint.secret
    const first = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
      grace_seconds: 60,
    })
    // Say the first answer was lost and the client retried.
    const second = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, {
      grace_seconds: 60,
    })
    expect(second.status).toBe(200)
    expect(second.body.previous_secret_expires_at).toBe(first.body.previous_secret_expires_at)
    receiver.trust(second.body.secret)
    receiver.trust(first.body.secret)
    await partner.call('POST', '/v1/transfers', paymentBody('rot-3'))
    await until(() => receiver.received.length).toBe(1)
    expect(receiver.received[0]!.verifiedWith.sort()).toEqual([original, second.body.secret].sort())
  })

  it('redelivers an event on request, with the same webhook-id', async () => {
    const { partner, receiver, endpoint } = await setup()
    await partner.call('POST', '/v1/transfers', paymentBody('redo-1'))
    await until(() => receiver.received.length).toBe(1)
    const eventId = receiver.received[0]!.id
    const again = await partner.call('POST', `/v1/events/${eventId}/redeliver`, { endpoint_id: endpoint.id })
    expect(again.status).toBe(202)
    expect(again.body.deliveries).toEqual([expect.objectContaining({ endpoint_id: endpoint.id, state: 'queued' })])
    // Once that attempt is recorded (no longer in flight), redelivering to all queues it again.
    await until(
      async () => (await partner.call('GET', `/v1/events/${eventId}`)).body.deliveries[0].attempts.length,
    ).toBe(2)
    const all = await partner.call('POST', `/v1/events/${eventId}/redeliver`)
    expect(all.body.deliveries).toEqual([expect.objectContaining({ endpoint_id: endpoint.id, state: 'queued' })])
    await until(() => receiver.received.length).toBe(3)
    expect(new Set(receiver.received.map((r) => r.id))).toEqual(new Set([eventId]))
    expect((await partner.call('POST', '/v1/events/evt_nope/redeliver')).status).toBe(404)
  })

  it('an event pruned by retention while it is being redelivered is a 404, not a database error', async () => {
    const { partner, receiver, endpoint } = await setup()
    await partner.call('POST', '/v1/transfers', paymentBody('redo-pruned'))
    await until(() => receiver.received.length).toBe(1)
    const eventId = receiver.received[0]!.id
    // The prune lands between the gateway's read of the event and its write of the delivery: this
    // test holds the database's write lock, lets the gateway read and then wait on the lock for its
    // write, deletes the event (as pruneHistory does) and commits; only then does the write run.
    const client = createClient({ url: gateway.dbUrl })
    const database = new URL(gateway.dbUrl).pathname.split('/').filter(Boolean)[0]!
    const served = async () =>
      (
        (await (await fetch(new URL('/_stats', gateway.dbUrl))).json()) as {
          databases: Record<string, { pipeline_requests: number }>
        }
      ).databases[database]!.pipeline_requests
    const tx = await client.transaction('write')
    try {
      await tx.execute('SELECT 1') // the client sends BEGIN IMMEDIATE with the first statement: the lock is held from here
      const before = await served()
      const answer = partner.call('POST', `/v1/events/${eventId}/redeliver`, { endpoint_id: endpoint.id })
      // Its reads (the event, the endpoint) are served beside the lock; its write arrives and waits.
      await until(served).toBeGreaterThanOrEqual(before + 3)
      await tx.execute({
        sql: 'DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ?)',
        args: [eventId],
      })
      await tx.execute({ sql: 'DELETE FROM deliveries WHERE event_id = ?', args: [eventId] })
      await tx.execute({ sql: 'DELETE FROM events WHERE id = ?', args: [eventId] })
      await tx.commit()
      const res = await answer
      expect(res.status).toBe(404)
      expect(res.body).toMatchObject({ code: 'event_not_found', status: 404 })
      expect((await partner.call('GET', `/v1/events/${eventId}`)).status).toBe(404)
    } finally {
      tx.close()
      client.close()
    }
  })
})

describe('deliveries survive lost messages and restarts', () => {
  it('the sweeper sends deliveries whose queue message was lost', async () => {
    // This gateway's queue has no consumer: its messages are lost, as if the queue dropped them.
    const lossy = await startGateway({ vars: FAST, database: gateway.database, overrides: { queueConsumers: {} } })
    try {
      const partner = await createSfoxPartner(lossy, sfox)
      const receiver = await startReceiver()
      const { body: endpoint } = await partner.call('POST', '/v1/webhook-endpoints', { url: receiver.url })
      receiver.trust(endpoint.secret)
      await completePayment(partner, 'lost-1')
      // Both deliveries wait, never attempted: their messages went nowhere.
      const waiting = await eventsOf(partner, 'lost-1')
      expect(waiting.map((e) => e.deliveries)).toEqual([
        [expect.objectContaining({ status: 'pending', attempts: [] })],
        [expect.objectContaining({ status: 'pending', attempts: [] })],
      ])
      // A sweep right away leaves them: their messages were sent a moment ago and may yet arrive.
      await gateway.cron()
      expect(receiver.received).toHaveLength(0)
      // Once those messages are overdue, any gateway's cron (here the healthy one, on the same database)
      // finds and sends them.
      await ageQueueMarks(gateway.dbUrl, partner.id)
      const sweptAt = Date.now()
      await gateway.cron()
      await until(() => receiver.verified().length).toBe(2)
      // Nothing reached the receiver before the sweep, and each was sent once.
      expect(receiver.received.every((r) => r.at >= sweptAt)).toBe(true)
      expect(new Set(receiver.received.map((r) => r.id)).size).toBe(2)
      await receiver.close()
    } finally {
      await lossy.close()
    }
  })

  it('a 2xx whose body never ends is delivered, not retried', async () => {
    // Headers at once, then a body that never finishes (the gateway's timeout here is 2 s).
    const hits: number[] = []
    const server = createServer((_req, res) => {
      hits.push(Date.now())
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('ok, and more to come')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const partner = await createSfoxPartner(gateway, sfox)
      const { port } = server.address() as AddressInfo
      await partner.call('POST', '/v1/webhook-endpoints', {
        url: `http://127.0.0.1:${port}/hooks`,
        event_types: ['transfer.created'],
      })
      await partner.call('POST', '/v1/transfers', paymentBody('slow-body'))
      const [event] = (await partner.call('GET', '/v1/events?transfer_id=slow-body')).body.data
      await until(
        async () => (await partner.call('GET', `/v1/events/${event.id}`)).body.deliveries[0]?.status,
        10_000,
      ).toBe('delivered')
      // Recorded as one attempt; a sweep run after it (which would send anything still due) sends nothing more.
      expect((await partner.call('GET', `/v1/events/${event.id}`)).body.deliveries[0].attempts).toHaveLength(1)
      await gateway.cron()
      expect(hits).toHaveLength(1)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })

  it('a deployment without the queue binding still delivers, retries included', async () => {
    const queueless = await startGateway({
      vars: FAST,
      database: gateway.database,
      overrides: { queueProducers: {}, queueConsumers: {} },
    })
    try {
      const partner = await createSfoxPartner(queueless, sfox)
      const receiver = await startReceiver()
      const { body: endpoint } = await partner.call('POST', '/v1/webhook-endpoints', { url: receiver.url })
      receiver.trust(endpoint.secret)
      receiver.reply({ status: 503 })
      await partner.call('POST', '/v1/transfers', paymentBody('noq-1'))
      // The first attempt happens right after the answer; it fails, and this gateway's cron retries it when due.
      await until(() => receiver.received.length).toBe(1)
      await until(async () => {
        await queueless.cron()
        return receiver.verified().length
      }, 15_000).toBe(2)
      await receiver.close()
    } finally {
      await queueless.close()
    }
  })

  it('a receiver that was down while the gateway restarted receives everything', async () => {
    const first = await startGateway({ vars: FAST, database: gateway.database })
    const partner = await createSfoxPartner(first, sfox)
    const receiver = await startReceiver()
    const { body: endpoint } = await partner.call('POST', '/v1/webhook-endpoints', { url: receiver.url })
    receiver.trust(endpoint.secret)
    await receiver.down()
    await completePayment(partner, 'restart-1')
    await partner.call('POST', '/v1/transfers', paymentBody('restart-2', { type: 'PAYOUT' }))
    // Let the first attempts fail (each is on record), then stop the gateway with retries still queued in memory.
    await until(async () => {
      const events = [...(await eventsOf(partner, 'restart-1')), ...(await eventsOf(partner, 'restart-2'))]
      return events.map((e) => e.deliveries[0]?.attempts.length >= 1)
    }).toEqual([true, true, true, true])
    await first.close()
    // Its retries' queue messages died with it (Miniflare's queue is in memory; a real one keeps them).
    await ageQueueMarks(gateway.dbUrl, partner.id)
    await receiver.up()
    const second = await startGateway({ vars: FAST, database: gateway.database })
    try {
      // Sweeps until every callback has arrived: a delivery the first gateway still held (leased) is due only
      // once its lease runs out, so one sweep may come too early for it.
      await until(async () => {
        await second.cron()
        return new Set(receiver.verified().map((r) => r.id)).size
      }, 30_000).toBe(4)
      const types = [...new Map(receiver.verified().map((r) => [r.id, r.body])).values()]
        .sort((a, b) => a.transfer_id.localeCompare(b.transfer_id) || a.sequence - b.sequence)
        .map((e) => `${e.transfer_id}:${e.type}`)
      expect(types).toEqual([
        'restart-1:transfer.created',
        'restart-1:transfer.completed',
        'restart-2:transfer.created',
        'restart-2:transfer.completed',
      ])
    } finally {
      await second.close()
      await receiver.close()
    }
  })
})

describe('retention', () => {
  it('prunes an event once it and all its deliveries are older than EVENT_RETENTION_DAYS, and nothing else', async () => {
    const { partner, receiver } = await setup()
    for (const id of ['ret-old', 'ret-pending', 'ret-redelivered', 'ret-new'])
      await partner.call('POST', '/v1/transfers', paymentBody(id))
    await until(() => receiver.received.length).toBe(4)
    const db = openDb(gateway.dbUrl)
    try {
      const daysAgo = (n: number) => Date.now() - n * 86_400_000
      const age = async (transferId: string, eventAt: number, deliveryAt: number, status = 'delivered') => {
        await db.all('UPDATE events SET created_at = ? WHERE partner_id = ? AND transfer_id = ?', [
          eventAt,
          partner.id,
          transferId,
        ])
        await db.all(
          'UPDATE deliveries SET updated_at = ?, status = ? WHERE event_id IN (SELECT id FROM events WHERE partner_id = ? AND transfer_id = ?)',
          [deliveryAt, status, partner.id, transferId],
        )
      }
      await age('ret-old', daysAgo(40), daysAgo(40))
      await age('ret-pending', daysAgo(50), daysAgo(50), 'pending') // still being delivered: kept
      await age('ret-redelivered', daysAgo(45), daysAgo(1)) // redelivered yesterday: kept
      await gateway.cron()
      const left = async (transferId: string) =>
        (await partner.call('GET', `/v1/events?transfer_id=${transferId}`)).body.data.length as number
      expect(await left('ret-old')).toBe(0)
      expect(
        await db.all(
          'SELECT 1 FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id WHERE d.partner_id = ? AND d.event_id NOT IN (SELECT id FROM events)',
          [partner.id],
        ),
      ).toHaveLength(0)
      expect(await left('ret-pending')).toBe(1)
      expect(await left('ret-redelivered')).toBe(1)
      expect(await left('ret-new')).toBe(1)
      // The transfers themselves are business records and stay.
      expect((await partner.call('GET', '/v1/transfers/ret-old')).status).toBe(200)
    } finally {
      await db.all("UPDATE deliveries SET status = 'failed' WHERE partner_id = ? AND status = 'pending'", [partner.id])
      await db.close()
    }
  })
})
