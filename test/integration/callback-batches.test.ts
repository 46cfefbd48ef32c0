import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { type Receiver, startReceiver } from '../helpers/receiver'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

/**
 * Deliveries claimed, sent and recorded a batch at a time. These gateways' queues have no consumer: the
 * messages they send go nowhere, and each test hands the Worker's queue handler the batch it wants, as
 * Cloudflare does (the Worker's own `queue()` entry point), then reads the rows.
 */
const TIMEOUT_MS = 1500
const VARS = {
  WEBHOOK_RETRY_SCHEDULE_SECONDS: '60,60,60',
  WEBHOOK_RETRY_JITTER: '0',
  WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
}
const QUEUE = 'transfer-gateway-deliveries'
// The batch Cloudflare hands the consumer at most (wrangler.toml).
const MAX_BATCH_SIZE = Number(
  /max_batch_size = (\d+)/.exec(readFileSync(join(import.meta.dirname, '../../wrangler.toml'), 'utf8'))![1],
)

let gateway: Gateway
let sfox: SfoxSandbox
const receivers: Receiver[] = []

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([
    startGateway({ vars: VARS, overrides: { queueConsumers: {} }, metrics: true }),
    startSfox(),
  ])
  await sfox.settings({ rate_limit: { enabled: false } })
})
afterAll(async () => {
  for (const receiver of receivers) await receiver.close()
  await gateway?.close()
  await sfox?.close()
})

const until = <T>(fn: () => Promise<T> | T, timeout = 10_000) => expect.poll(fn, { timeout, interval: 25 })

type QueueResult = { outcome: string; ackAll: boolean; retryBatch: { retry: boolean }; explicitAcks: string[] }
type QueueCaller = {
  queue: (
    queue: string,
    messages: { id: string; timestamp: Date; body: unknown; attempts: number }[],
  ) => Promise<QueueResult & { retryMessages: { msgId: string }[] }>
}

/** Hands the queue handler one batch with a message per id (ids may repeat), as the queue would. */
const queueBatch = async (on: Gateway, ids: string[], tag: string) => {
  const worker = (await on.mf.getWorker()) as unknown as QueueCaller
  return worker.queue(
    QUEUE,
    ids.map((id, i) => ({ id: `${tag}-${i}`, timestamp: new Date(), body: { delivery_id: id }, attempts: 1 })),
  )
}

const receiver = async (reply: Parameters<Receiver['always']>[0] = { status: 200 }) => {
  const r = await startReceiver()
  r.always(reply)
  receivers.push(r)
  return r
}

/** A partner with an endpoint per receiver, each for `types`; returns the endpoints' ids in order. */
const partnerWith = async (on: Gateway, targets: Receiver[], types = ['transfer.created']) => {
  const partner = await createSfoxPartner(on, sfox)
  const endpoints: string[] = []
  for (const target of targets) {
    const { body } = await partner.call('POST', '/v1/webhook-endpoints', { url: target.url, event_types: types })
    target.trust(body.secret)
    endpoints.push(body.id)
  }
  return { partner, endpoints }
}

type DeliveryRow = {
  id: string
  endpoint_id: string
  status: string
  attempts: number
  next_attempt_at: number | null
  enqueued_at: number | null
  locked_until: number | null
  last_error: string | null
}

const deliveriesOf = async (on: Gateway, partnerId: string) => {
  const db = openDb(on.dbUrl)
  try {
    return await db.all<DeliveryRow>('SELECT * FROM deliveries WHERE partner_id = ? ORDER BY id', [partnerId])
  } finally {
    await db.close()
  }
}

const attemptsOf = async (on: Gateway, deliveryId: string) => {
  const db = openDb(on.dbUrl)
  try {
    return await db.all<{ status_code: number | null; error: string | null }>(
      'SELECT * FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt',
      [deliveryId],
    )
  } finally {
    await db.close()
  }
}

/** Round trips the libSQL server has served for this gateway's database (its /_stats). */
const roundTrips = async (on: Gateway) => {
  const stats = (await (await fetch(new URL('/_stats', on.dbUrl))).json()) as {
    databases: Record<string, { pipeline_requests: number; cursor_requests: number }>
  }
  const db = stats.databases[on.database]
  return db ? db.pipeline_requests + db.cursor_requests : 0
}

/** The count once it has not moved for a while: work a request left running after its answer is done. */
const settledRoundTrips = async (on: Gateway) => {
  let last = await roundTrips(on)
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 300))
    const now = await roundTrips(on)
    if (now === last) return now
    last = now
  }
}

describe('a queue batch', () => {
  it('to four receivers gets each outcome right, and a hanging one does not hold the others back', async () => {
    const [ok, failing, gone, hanging] = [
      await receiver({ status: 200 }),
      await receiver({ status: 500, body: 'boom' }),
      await receiver({ status: 410 }),
      await receiver({ status: 200, delayMs: TIMEOUT_MS + 2000 }),
    ]
    const { partner, endpoints } = await partnerWith(gateway, [ok, failing, gone, hanging])
    await partner.call('POST', '/v1/transfers', paymentBody('batch-1'))
    const rows = await deliveriesOf(gateway, partner.id)
    expect(rows).toHaveLength(4)
    const of = (endpoint: string) => rows.find((r) => r.endpoint_id === endpoint)!.id
    const [okId, failingId, goneId, hangingId] = endpoints.map(of) as [string, string, string, string]

    const started = Date.now()
    let handled = false
    const batch = queueBatch(gateway, [okId, failingId, goneId, hangingId], 'four').finally(() => {
      handled = true
    })
    // The healthy outcomes are written within RECORD_WITHIN_MS of their answers, while the hang is still in flight.
    await until(async () => (await deliveriesOf(gateway, partner.id)).find((r) => r.id === okId)?.status).toBe(
      'delivered',
    )
    expect(handled).toBe(false)
    const meanwhile = await deliveriesOf(gateway, partner.id)
    expect(meanwhile.find((r) => r.id === hangingId)).toMatchObject({ status: 'pending', attempts: 1 })
    expect(meanwhile.find((r) => r.id === hangingId)!.locked_until).not.toBeNull()

    const result = await batch
    // Every message acked, each once its outcome was written.
    expect(result.outcome).toBe('ok')
    expect(result.retryMessages).toEqual([])
    expect(result.explicitAcks.sort()).toEqual(['four-0', 'four-1', 'four-2', 'four-3'])
    const after = new Map((await deliveriesOf(gateway, partner.id)).map((r) => [r.id, r]))
    expect(after.get(okId)).toMatchObject({ status: 'delivered', attempts: 1, locked_until: null, last_error: null })
    // A retry is due in a minute; its queue message is due then, so the sweeper leaves it until a while after.
    for (const id of [failingId, hangingId]) {
      const row = after.get(id)!
      expect(row).toMatchObject({ status: 'pending', attempts: 1, locked_until: null })
      expect(row.next_attempt_at).toBeGreaterThan(started + 55_000)
      expect(row.enqueued_at).toBe(row.next_attempt_at)
    }
    expect(after.get(failingId)!.last_error).toBe('HTTP 500')
    expect(after.get(hangingId)!.last_error).toBe(`no answer within ${TIMEOUT_MS} ms`)
    expect(after.get(goneId)).toMatchObject({ status: 'failed', attempts: 1 })
    expect(after.get(goneId)!.last_error).toMatch(/^the receiver answered 410 Gone/)
    expect(await attemptsOf(gateway, failingId)).toEqual([expect.objectContaining({ status_code: 500 })])
    expect(await attemptsOf(gateway, hangingId)).toEqual([expect.objectContaining({ status_code: null })])
    const endpoint = async (id: string) => (await partner.call('GET', `/v1/webhook-endpoints/${id}`)).body
    expect(await endpoint(endpoints[2]!)).toMatchObject({
      enabled: false,
      disabled_reason: 'the receiver answered 410 Gone',
    })
    expect((await endpoint(endpoints[1]!)).failing_since).not.toBeNull()
    expect(await endpoint(endpoints[0]!)).toMatchObject({ enabled: true, failing_since: null })
    // Each receiver was called once, signed; a metric point per attempt.
    for (const r of [ok, failing, gone, hanging]) expect(r.verified()).toHaveLength(1)
    await until(async () =>
      (await gateway.metricPoints())
        .filter((x) => x.blobs[0] === 'callback' && x.blobs[1] === partner.id)
        .map((x) => `${x.blobs[3]} ${x.blobs[5]}`)
        .sort(),
    ).toEqual(
      [`${endpoints[0]} delivered`, `${endpoints[1]} retry`, `${endpoints[2]} failed`, `${endpoints[3]} retry`].sort(),
    )
  })

  it('raced by a second consumer with the same ids (and one id twice) sends each delivery once', async () => {
    const slow = await receiver({ status: 200, delayMs: 300 })
    const other = await receiver({ status: 200, delayMs: 300 })
    const { partner } = await partnerWith(gateway, [slow, other], ['transfer.created', 'transfer.completed'])
    await partner.call('POST', '/v1/transfers', paymentBody('race-1', { type: 'PAYOUT' }))
    const ids = (await deliveriesOf(gateway, partner.id)).map((r) => r.id)
    expect(ids).toHaveLength(4)
    const [first, second] = await Promise.all([
      queueBatch(gateway, [...ids, ids[0]!], 'first'),
      queueBatch(gateway, ids, 'second'),
    ])
    expect(slow.received).toHaveLength(2)
    expect(other.received).toHaveLength(2)
    expect(new Set([...slow.received, ...other.received].map((r) => `${r.id} ${r.signature}`)).size).toBe(4)
    for (const id of ids) expect(await attemptsOf(gateway, id)).toHaveLength(1)
    expect((await deliveriesOf(gateway, partner.id)).map((r) => r.status)).toEqual(ids.map(() => 'delivered'))
    // The consumer that found them taken acks its messages too (nothing left to do); so does the one that sent.
    expect(first.explicitAcks).toHaveLength(5)
    expect(second.explicitAcks).toHaveLength(4)
  })

  it('costs at most 0.5 DB round trips per delivery: one claim and one write for the batch', async () => {
    const targets = [await receiver(), await receiver(), await receiver(), await receiver()]
    const { partner } = await partnerWith(gateway, targets, ['transfer.created', 'transfer.completed'])
    await partner.call('POST', '/v1/transfers', paymentBody('rt-1', { type: 'PAYOUT' }))
    const ids = (await deliveriesOf(gateway, partner.id)).map((r) => r.id)
    expect(ids).toHaveLength(8)
    const before = await settledRoundTrips(gateway)
    const result = await queueBatch(gateway, ids, 'rt')
    const served = (await settledRoundTrips(gateway)) - before
    expect(result.explicitAcks).toHaveLength(8)
    expect((await deliveriesOf(gateway, partner.id)).every((r) => r.status === 'delivered')).toBe(true)
    // One claim and one write when the receivers answer within RECORD_WITHIN_MS of each other (a write
    // more if this machine's load stretches one answer past it); one per delivery would be 8 or more.
    expect(served).toBeGreaterThanOrEqual(2)
    expect(served / ids.length).toBeLessThanOrEqual(0.5)
  })

  it('of max_batch_size sends every delivery once: one claim, then a write per RECORD_WITHIN_MS at most', async () => {
    // 5 endpoints, each told of 2 events by every PAYOUT: a full batch of deliveries.
    const targets = await Promise.all(Array.from({ length: 5 }, () => receiver()))
    const { partner } = await partnerWith(gateway, targets, ['transfer.created', 'transfer.completed'])
    for (let i = 0; i < MAX_BATCH_SIZE / 10; i++)
      expect((await partner.call('POST', '/v1/transfers', paymentBody(`full-${i}`, { type: 'PAYOUT' }))).status).toBe(
        201,
      )
    const ids = (await deliveriesOf(gateway, partner.id)).map((r) => r.id)
    expect(ids).toHaveLength(MAX_BATCH_SIZE)
    const before = await settledRoundTrips(gateway)
    const started = performance.now()
    const result = await queueBatch(gateway, ids, 'full')
    const elapsedMs = performance.now() - started
    const served = (await settledRoundTrips(gateway)) - before
    expect(result.explicitAcks).toHaveLength(MAX_BATCH_SIZE)
    expect((await deliveriesOf(gateway, partner.id)).every((r) => r.status === 'delivered')).toBe(true)
    for (const target of targets) expect(new Set(target.received.map((r) => r.id)).size).toBe(MAX_BATCH_SIZE / 5)
    for (const target of targets) expect(target.received).toHaveLength(MAX_BATCH_SIZE / 5)
    // The claim, then what has finished every RECORD_WITHIN_MS (200 ms) and the rest at the end: on a
    // quiet machine 2 or 3 in all, never a write per delivery.
    expect(served).toBeGreaterThanOrEqual(2)
    expect(served).toBeLessThanOrEqual(2 + Math.ceil(elapsedMs / 200))
    expect(served / ids.length).toBeLessThanOrEqual(0.5)
  })
})

describe('the sweeper', () => {
  it('enqueues a due delivery once per SWEEP_REENQUEUE_AFTER_SECONDS, however many cron runs find it waiting', async () => {
    const A_DAY_MS = 86_400_000
    // Its own database: every sweep's count is this test's deliveries alone.
    const lossy = await startGateway({ vars: VARS, overrides: { queueConsumers: {} } })
    try {
      const refusing = await receiver({ status: 500 })
      const { partner } = await partnerWith(lossy, [refusing], ['transfer.created', 'transfer.completed'])
      await partner.call('POST', '/v1/transfers', paymentBody('flood-1', { type: 'PAYOUT' }))
      const ids = (await deliveriesOf(lossy, partner.id)).map((r) => r.id)
      expect(ids).toHaveLength(2)
      /** How many deliveries each cron run so far enqueued (its log line). */
      const sweeps = () =>
        lossy.logs
          .map((l) => {
            try {
              return JSON.parse(l.message) as { msg?: string; sweep?: unknown }
            } catch {
              return {}
            }
          })
          .filter((line) => line.msg === 'cron')
          .map((line) => line.sweep)
      const cronRuns = async (n: number) => {
        for (let i = 0; i < n; i++) await lossy.cron()
      }
      // Their messages were sent with the transfer (and went nowhere): no sweep adds another while they may arrive.
      await cronRuns(3)
      expect(sweeps()).toEqual([0, 0, 0])
      // Once they are overdue, one sweep enqueues each again, and the next runs leave them to that message.
      const db = openDb(lossy.dbUrl)
      try {
        await db.all('UPDATE deliveries SET enqueued_at = enqueued_at - ? WHERE partner_id = ?', [A_DAY_MS, partner.id])
      } finally {
        await db.close()
      }
      await cronRuns(3)
      expect(sweeps()).toEqual([0, 0, 0, 2, 0, 0])
      expect(refusing.received).toHaveLength(0)
    } finally {
      await lossy.close()
    }
  })
})
