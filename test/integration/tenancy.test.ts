import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPartner, createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

let gateway: Gateway
let sfox: SfoxSandbox

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([startGateway(), startSfox()])
})
afterAll(async () => {
  await gateway?.close()
  await sfox?.close()
})

describe('partner authentication', () => {
  it('refuses requests without a valid key', async () => {
    const p = await createPartner(gateway)
    const attempts: [string | undefined, Record<string, string>][] = [
      [undefined, {}],
      [undefined, { authorization: 'Basic dXNlcjpwYXNz' }],
      [undefined, { authorization: `Bearer ${p.key.slice(0, -1)}` }],
      [undefined, { authorization: `Bearer ${p.key}x` }],
      [`tgw_test_${'A'.repeat(32)}`, {}],
      [p.key.replace('tgw_test_', 'tgw_live_'), {}],
    ]
    for (const [key, headers] of attempts) {
      const res = await gateway.request('GET', '/v1/transfers', { key, headers })
      expect(res.status).toBe(401)
      expect(res.body.code).toBe('unauthorized')
    }
    expect(
      (await gateway.request('GET', '/v1/transfers', { headers: { authorization: `bearer ${p.key}` } })).status,
    ).toBe(200)
  })
})

describe('tenant isolation', () => {
  it("another partner's transfer is a 404 for every verb, never a 403", async () => {
    const a = await createSfoxPartner(gateway, sfox)
    const b = await createSfoxPartner(gateway, sfox)
    const { body: t } = await a.call('POST', '/v1/transfers', paymentBody('shared-id'))
    for (const [method, path, body] of [
      ['GET', '/v1/transfers/shared-id'],
      ['POST', '/v1/transfers/shared-id/confirm', { code: '123456' }],
      ['POST', '/v1/transfers/shared-id/resend'],
      ['POST', '/v1/transfers/shared-id/cancel'],
    ] as const) {
      const res = await b.call(method, path, body)
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(res.body.code).toBe('transfer_not_found')
    }
    expect((await b.call('GET', '/v1/transfers')).body.data).toEqual([])
    expect((await b.call('GET', '/v1/transfers?starting_after=shared-id')).status).toBe(422)
    // A's transfer is untouched.
    const mine = await a.call('GET', '/v1/transfers/shared-id')
    expect(mine.body).toMatchObject({
      status: 'pending_verification',
      verification: { attempts_remaining: 5, resends_used: 0 },
    })
    expect(await sfox.requests({ account: a.sfoxAccount, path: '/v1/enterprise/transfer/confirm' })).toHaveLength(0)
    void t
  })

  it("every list refuses a cursor it cannot see (unknown or another partner's) with 422, and pages on its own", async () => {
    const a = await createSfoxPartner(gateway, sfox)
    const b = await createSfoxPartner(gateway, sfox)
    await a.call('POST', '/v1/transfers', paymentBody('cursor-t'))
    const endpoint = await a.call('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hook' })
    const [event] = (await a.call('GET', '/v1/events?limit=1')).body.data
    expect(event).toBeDefined()
    // An event id is a place in time (pruned events stay usable as cursors): another partner's
    // pages from there, seeing only its own events; a malformed one is refused.
    const foreign = await b.call('GET', `/v1/events?starting_after=${event.id}`)
    expect(foreign.status).toBe(200)
    expect(JSON.stringify(foreign.body)).not.toContain('cursor-t')
    expect((await b.call('GET', '/v1/events?starting_after=evt_nope')).status).toBe(422)
    // Deleted endpoints stay valid cursors for their owner (list, delete, next page).
    await a.call('DELETE', `/v1/webhook-endpoints/${endpoint.body.id}`)
    for (const [path, id] of [
      ['/v1/webhook-endpoints', endpoint.body.id],
      ['/v1/users/u1/document-submissions', 'ds_nope'],
    ] as const) {
      expect((await a.call('GET', `${path}?starting_after=${id}`)).status, path).toBe(id === 'ds_nope' ? 422 : 200)
      const other = await b.call('GET', `${path}?starting_after=${id}`)
      expect(other.status, path).toBe(422)
      expect(other.headers.get('content-type')).toBe('application/problem+json')
      expect(other.body.errors[0]).toMatchObject({ field: 'starting_after', code: 'not_found' })
    }
  })

  it('two partners may use the same transfer_id independently', async () => {
    const a = await createSfoxPartner(gateway, sfox)
    const b = await createSfoxPartner(gateway, sfox)
    const ra = await a.call('POST', '/v1/transfers', paymentBody('same-id'))
    const rb = await b.call('POST', '/v1/transfers', paymentBody('same-id', { quantity: '7' }))
    expect(ra.status).toBe(201)
    expect(rb.status).toBe(201)
    expect(ra.body.provider_reference).not.toBe(rb.body.provider_reference)
    expect((await a.call('GET', '/v1/transfers/same-id')).body.sfox.quantity).toBe('0.1')
    expect((await b.call('GET', '/v1/transfers/same-id')).body.sfox.quantity).toBe('7')
  })

  it('even on one shared sFOX account, partners cannot collide: sFOX ids are derived', async () => {
    const account = await sfox.newAccount()
    const a = await createPartner(gateway, { sfox: { baseUrl: sfox.url, apiKey: account.api_key } })
    const b = await createPartner(gateway, { sfox: { baseUrl: sfox.url, apiKey: account.api_key } })
    expect((await a.call('POST', '/v1/transfers', paymentBody('order-7'))).status).toBe(201)
    expect((await b.call('POST', '/v1/transfers', paymentBody('order-7'))).status).toBe(201)
    expect(await sfox.transfers(account.account)).toHaveLength(2)
  })
})
