import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { startReceiver } from '../helpers/receiver'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

/**
 * Metrics in Workers Analytics Engine: one data point per request and per callback attempt, with the
 * columns docs/operations.md queries, and never a code, key or secret. Miniflare's own dataset drops
 * every point, so METRICS is bound to a recorder here (test/helpers/worker.ts).
 */

type Point = { indexes: string[]; blobs: string[]; doubles: number[] }

let gateway: Gateway
let sfox: SfoxSandbox

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([startGateway({ metrics: true }), startSfox()])
})
afterAll(async () => {
  await gateway?.close()
  await sfox?.close()
})

const pointsWhere = async (match: (p: Point) => boolean, count = 1) => {
  let found: Point[] = []
  await expect
    .poll(
      async () => {
        found = (await gateway.metricPoints()).filter(match)
        return found.length
      },
      { timeout: 10_000, interval: 50 },
    )
    .toBeGreaterThanOrEqual(count)
  return found
}

describe('Analytics Engine data points', () => {
  it('one per request: partner, mode, method, route, provider; status, duration and provider time', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const created = await p.call('POST', '/v1/transfers', paymentBody('m-1'))
    expect(created.status).toBe(201)
    const code = await sfox.latestCode(created.body.provider_reference)
    expect((await p.call('POST', '/v1/transfers/m-1/confirm', { code })).status).toBe(200)

    const [create] = await pointsWhere((x) => x.blobs[1] === p.id && x.blobs[4] === '/v1/transfers')
    expect(create!.indexes).toEqual([p.id])
    expect(create!.blobs).toEqual(['request', p.id, 'test', 'POST', '/v1/transfers', 'sfox', ''])
    expect(create!.doubles[0]).toBe(201)
    expect(create!.doubles[1]).toBeGreaterThanOrEqual(create!.doubles[2]!)
    expect(create!.doubles[2]).toBeGreaterThan(0)
    const [confirm] = await pointsWhere(
      (x) => x.blobs[1] === p.id && x.blobs[4] === '/v1/transfers/:transfer_id/confirm',
    )
    expect(confirm!.doubles[0]).toBe(200)

    // Nothing secret in any point: not the key, not the code, not the sFOX credential.
    const all = JSON.stringify(await gateway.metricPoints())
    for (const secret of [p.key, code, p.sfoxKey, 'Bearer']) expect(all).not.toContain(secret)
  })

  it("names the provider's failure kind when a provider call failed", async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer', status: 503, apiKey: p.sfoxKey })
    expect((await p.call('POST', '/v1/transfers', paymentBody('m-down'))).status).toBe(502)
    const [point] = await pointsWhere((x) => x.blobs[1] === p.id && x.blobs[4] === '/v1/transfers')
    expect(point!.blobs.slice(5)).toEqual(['sfox', 'unavailable'])
    expect(point!.doubles[0]).toBe(502)
  })

  it('one per callback attempt: partner, endpoint, event type, outcome; receiver status, duration, attempt', async () => {
    const receiver = await startReceiver()
    try {
      const p = await createSfoxPartner(gateway, sfox)
      const endpoint = await p.call('POST', '/v1/webhook-endpoints', {
        url: receiver.url,
        event_types: ['transfer.created'],
      })
      await p.call('POST', '/v1/transfers', paymentBody('m-cb'))
      await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1)
      const [attempt] = await pointsWhere((x) => x.blobs[0] === 'callback' && x.blobs[1] === p.id)
      expect(attempt!.blobs).toEqual(['callback', p.id, 'test', endpoint.body.id, 'transfer.created', 'delivered'])
      expect(attempt!.doubles[0]).toBe(200)
      expect(attempt!.doubles[2]).toBe(1)
    } finally {
      await receiver.close()
    }
  })
})
