import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { startReceiver } from '../helpers/receiver'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

// Promises of docs/callbacks.md ("Delivery and retries", "Redeliver and recover") that had no test.
// Retries every second, without jitter, so a schedule plays out in a test's time.
const FAST = { WEBHOOK_RETRY_SCHEDULE_SECONDS: '1,1,1,1,1,1,1', WEBHOOK_RETRY_JITTER: '0' }

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

const until = <T>(fn: () => Promise<T> | T, timeout = 15_000) => expect.poll(fn, { timeout, interval: 50 })

/**
 * A receiver that holds every answer until the test releases it, counting how many requests it
 * holds at once (the most it ever held is the concurrency the gateway used).
 */
const startHoldingReceiver = async () => {
  const held: ServerResponse[] = []
  let arrived = 0
  let maxHeld = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    req.on('end', () => {
      arrived += 1
      held.push(res)
      maxHeld = Math.max(maxHeld, held.length)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    arrived: () => arrived,
    holding: () => held.length,
    maxHeld: () => maxHeld,
    /** Answers the oldest held request 200. */
    releaseOne: () => held.shift()?.end('ok'),
    close: () => {
      for (const res of held.splice(0)) res.end('ok')
      server.closeAllConnections()
      server.close()
    },
  }
}

describe('docs/callbacks.md "Delivery and retries"', () => {
  it('"Success: any 2xx within WEBHOOK_TIMEOUT_MS": a receiver that does not answer in time is retried (callbacks.md, Delivery and retries)', async () => {
    const timely = await startGateway({ vars: { ...FAST, WEBHOOK_TIMEOUT_MS: '1000' }, database: gateway.database })
    const receiver = await startReceiver()
    try {
      const partner = await createSfoxPartner(timely, sfox)
      const { body: endpoint } = await partner.call('POST', '/v1/webhook-endpoints', {
        url: receiver.url,
        event_types: ['transfer.created'],
      })
      receiver.trust(endpoint.secret)
      // The first answer would be a 200, but only after 3 s: far past the 1 s timeout. Later ones are at once.
      receiver.reply({ status: 200, body: 'too late', delayMs: 3_000 })
      await partner.call('POST', '/v1/transfers', paymentBody('slow-receiver'))
      await until(() => receiver.verified().length).toBe(2)
      expect(new Set(receiver.received.map((r) => r.id)).size).toBe(1)
      const [event] = (await partner.call('GET', '/v1/events?transfer_id=slow-receiver')).body.data
      await until(async () => (await partner.call('GET', `/v1/events/${event.id}`)).body.deliveries[0]?.status).toBe(
        'delivered',
      )
      const { deliveries } = (await partner.call('GET', `/v1/events/${event.id}`)).body
      expect(deliveries[0].attempts).toMatchObject([
        { attempt: 1, status_code: null, error: 'no answer within 1000 ms' },
        { attempt: 2, status_code: 200, error: null },
      ])
      // The timed-out attempt was given up at the timeout, not when the receiver finally answered.
      expect(deliveries[0].attempts[0].duration_ms).toBeLessThan(3_000)
    } finally {
      await receiver.close()
      await timely.close()
    }
  })

  for (const queue of [true, false]) {
    it(`"Concurrency: one invocation calls at most 4 receivers at a time" (callbacks.md, Delivery and retries; ${queue ? 'queue consumer' : 'no queue binding'})`, async () => {
      // One event for a partner with 10 endpoints: its 10 deliveries are sent by one invocation (the
      // queue's one batch of 10, or the request's own waitUntil without a queue). The receiver holds
      // every answer, so the number it holds at once is the number of receivers being called.
      const own = queue
        ? gateway
        : await startGateway({
            vars: FAST,
            database: gateway.database,
            overrides: { queueProducers: {}, queueConsumers: {} },
          })
      const receiver = await startHoldingReceiver()
      try {
        const partner = await createSfoxPartner(own, sfox)
        for (let i = 0; i < 10; i++) {
          const res = await partner.call('POST', '/v1/webhook-endpoints', {
            url: receiver.url(`/hooks/${i}`),
            event_types: ['transfer.created'],
          })
          expect(res.status).toBe(201)
        }
        const id = `fan-out-${queue ? 'queue' : 'direct'}`
        expect((await partner.call('POST', '/v1/transfers', paymentBody(id))).status).toBe(201)
        await until(() => receiver.holding()).toBe(4)
        // Answer one at a time, each only once the gateway has filled the freed slot again.
        for (let released = 0; released < 10; released++) {
          await until(() => receiver.holding()).toBe(Math.min(4, 10 - released))
          receiver.releaseOne()
        }
        const [event] = (await partner.call('GET', `/v1/events?transfer_id=${id}`)).body.data
        await until(async () =>
          (await partner.call('GET', `/v1/events/${event.id}`)).body.deliveries.map((d: any) => d.status),
        ).toEqual(Array(10).fill('delivered'))
        expect(receiver.arrived()).toBe(10)
        expect(receiver.maxHeld()).toBe(4)
      } finally {
        receiver.close()
        if (!queue) await own.close()
      }
    })
  }
})

describe('docs/callbacks.md "Redeliver and recover"', () => {
  it('"recover … up to 5,000 per call (has_more says to call again)" (callbacks.md, Redeliver and recover)', async () => {
    // Messages of this gateway's queue are never consumed, so nothing is sent: only the rows are looked at.
    const lossy = await startGateway({ vars: FAST, overrides: { queueConsumers: {} } })
    const db = openDb(lossy.dbUrl)
    try {
      const partner = await createPartner(lossy)
      const { body: endpoint } = await partner.call('POST', '/v1/webhook-endpoints', {
        url: 'http://127.0.0.1:9/hooks',
      })
      // 5,001 failed deliveries of 5,001 events (test events: about no transfer), written directly.
      const now = Date.now()
      await db.all(
        `INSERT INTO events (id, partner_id, mode, transfer_pk, transfer_id, type, sequence, data, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5001)
         SELECT 'evt_seed_' || printf('%05d', i), ?, 'test', NULL, 'tgw_test_transfer', 'transfer.test', 1, '{}', ?
         FROM n`,
        [partner.id, now],
      )
      await db.all(
        `INSERT INTO deliveries (id, event_id, endpoint_id, partner_id, status, attempts, last_error, created_at, updated_at)
         SELECT 'dlv_seed_' || substr(id, 10), id, ?, ?, 'failed', 8, 'gave up after 8 attempts', ?, ?
         FROM events WHERE id LIKE 'evt_seed_%'`,
        [endpoint.id, partner.id, now, now],
      )
      const counts = async () =>
        Object.fromEntries(
          (
            await db.all<{ status: string; n: number }>(
              'SELECT status, count(*) AS n FROM deliveries WHERE endpoint_id = ? GROUP BY status',
              [endpoint.id],
            )
          ).map((r) => [r.status, Number(r.n)]),
        )
      expect(await counts()).toEqual({ failed: 5001 })
      const since = new Date(now - 60_000).toISOString()
      const first = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/recover`, { since })
      expect(first.status).toBe(202)
      expect(first.body).toMatchObject({ deliveries_requeued: 5000, has_more: true })
      expect(await counts()).toEqual({ failed: 1, pending: 5000 })
      const second = await partner.call('POST', `/v1/webhook-endpoints/${endpoint.id}/recover`, { since })
      expect(second.body).toMatchObject({ deliveries_requeued: 1, has_more: false })
      expect(await counts()).toEqual({ pending: 5001 })
    } finally {
      db.close()
      await lossy.close()
    }
  })
})
