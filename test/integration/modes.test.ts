import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Gateway, startGateway } from '../helpers/gateway'
import { createQiPartner, partnerKeyPair, type QiSandbox, startQi, tedBody } from '../helpers/qi'
import { type Receiver, startReceiver } from '../helpers/receiver'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

// Test and live never touch each other: one partner, a key of each mode, each mode with its own sFOX
// account (so the sandbox's request log shows which connection a call used).
let gateway: Gateway
let sfox: SfoxSandbox
let qi: QiSandbox
let receivers: { test: Receiver; live: Receiver }

beforeAll(async () => {
  ;[gateway, sfox, qi] = await Promise.all([
    startGateway({ vars: { WEBHOOK_RETRY_SCHEDULE_SECONDS: '1' } }),
    startSfox(),
    startQi(),
  ])
  receivers = { test: await startReceiver(), live: await startReceiver() }
})
afterAll(async () => {
  await Promise.all([gateway?.close(), sfox?.close(), qi?.close(), receivers?.test.close(), receivers?.live.close()])
})

type Caller = { key: string; call: (method: string, path: string, body?: unknown) => Promise<any> }

/** A partner with a test and a live key, and an sFOX connection (its own account) in each mode. */
const pair = async () => {
  const partner = await gateway.admin('POST', '/partners', { name: 'Two modes' })
  const id = partner.body.id as string
  const keyOf = async (mode: 'test' | 'live'): Promise<Caller> => {
    const key = (await gateway.admin('POST', `/partners/${id}/api-keys`, { mode })).body.key as string
    return { key, call: (method, path, body) => gateway.request(method, path, { body, key }) }
  }
  const [testAccount, liveAccount] = await Promise.all([sfox.newAccount(), sfox.newAccount()])
  for (const [mode, account] of [
    ['test', testAccount],
    ['live', liveAccount],
  ] as const) {
    const put = await gateway.admin('PUT', `/partners/${id}/connections/sfox?mode=${mode}`, {
      api_key: account.api_key,
      base_url: sfox.url,
    })
    expect(put.status, put.text).toBe(200)
    expect(put.body).toMatchObject({ mode, livemode: mode === 'live' })
  }
  return { id, test: await keyOf('test'), live: await keyOf('live'), testAccount, liveAccount }
}

const creates = (account: string) =>
  sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account }).then((r) => r.length)

describe('test and live are separate worlds', () => {
  it('the same transfer_id makes one transfer per mode, each through its own connection, invisible to the other key', async () => {
    const p = await pair()
    const t = await p.test.call('POST', '/v1/transfers', paymentBody('same-id'))
    const l = await p.live.call('POST', '/v1/transfers', paymentBody('same-id', { quantity: '0.2' }))
    expect([t.status, l.status]).toEqual([201, 201])
    expect(t.body.livemode).toBe(false)
    expect(l.body.livemode).toBe(true)
    expect(t.body.provider_reference).not.toBe(l.body.provider_reference)
    // Each create reached only its own mode's connection (its own sFOX account).
    expect(await creates(p.testAccount.account)).toBe(1)
    expect(await creates(p.liveAccount.account)).toBe(1)

    for (const self of [p.test, p.live]) {
      const mine = await self.call('GET', '/v1/transfers/same-id')
      expect(mine.body.livemode).toBe(self === p.live)
      const list = await self.call('GET', '/v1/transfers?limit=100')
      expect(list.body.data.map((x: { livemode: boolean }) => x.livemode)).toEqual([self === p.live])
    }
  })

  it("another mode's transfer is a 404 for every verb, exactly like another partner's", async () => {
    const p = await pair()
    expect((await p.live.call('POST', '/v1/transfers', paymentBody('live-only'))).status).toBe(201)
    for (const [method, path, body] of [
      ['GET', '/v1/transfers/live-only', undefined],
      ['POST', '/v1/transfers/live-only/confirm', { code: '123456' }],
      ['POST', '/v1/transfers/live-only/resend', {}],
      ['POST', '/v1/transfers/live-only/cancel', undefined],
    ] as const) {
      const res = await p.test.call(method, path, body)
      expect(res.status, `${method} ${path}`).toBe(404)
      expect(res.body.code).toBe('transfer_not_found')
    }
    // Its id is no cursor for the other mode either.
    const cursor = await p.test.call('GET', '/v1/transfers?starting_after=live-only')
    expect(cursor.status).toBe(422)
    // And the live transfer was never touched: still pending, no code forwarded to sFOX.
    expect((await p.live.call('GET', '/v1/transfers/live-only')).body.status).toBe('pending_verification')
  })

  it('webhook endpoints, events and callbacks stay in their mode', async () => {
    const p = await pair()
    const endpoints = {
      test: await p.test.call('POST', '/v1/webhook-endpoints', { url: receivers.test.url }),
      live: await p.live.call('POST', '/v1/webhook-endpoints', { url: receivers.live.url }),
    }
    receivers.test.trust(endpoints.test.body.secret)
    receivers.live.trust(endpoints.live.body.secret)
    expect(endpoints.test.body.livemode).toBe(false)
    expect(endpoints.live.body.livemode).toBe(true)
    // The other mode's endpoint does not exist for this key.
    for (const [method, suffix, body] of [
      ['GET', '', undefined],
      ['PATCH', '', { description: 'x' }],
      ['DELETE', '', undefined],
      ['POST', '/rotate-secret', {}],
      ['POST', '/recover', { since: '2026-01-01T00:00:00Z' }],
    ] as const) {
      const res = await p.test.call(method, `/v1/webhook-endpoints/${endpoints.live.body.id}${suffix}`, body)
      expect(res.status, `${method} ${suffix}`).toBe(404)
    }
    expect((await p.test.call('GET', '/v1/webhook-endpoints')).body.data.map((e: { id: string }) => e.id)).toEqual([
      endpoints.test.body.id,
    ])

    await p.test.call('POST', '/v1/transfers', paymentBody('cb-test'))
    await p.live.call('POST', '/v1/transfers', paymentBody('cb-live'))
    await expect
      .poll(() => receivers.live.verified().some((r) => r.body.data?.object?.id === 'cb-live'), { timeout: 10_000 })
      .toBe(true)
    await expect
      .poll(() => receivers.test.verified().some((r) => r.body.data?.object?.id === 'cb-test'), { timeout: 10_000 })
      .toBe(true)
    // Each receiver heard only its own mode.
    expect(receivers.test.verified().every((r) => r.body.livemode === false)).toBe(true)
    expect(receivers.live.verified().every((r) => r.body.livemode === true && r.body.data.object.livemode)).toBe(true)
    expect(receivers.test.verified().some((r) => r.body.data?.object?.id === 'cb-live')).toBe(false)

    const liveEvents = (await p.live.call('GET', '/v1/events?transfer_id=cb-live')).body.data
    expect(liveEvents.length).toBeGreaterThan(0)
    expect((await p.test.call('GET', '/v1/events?transfer_id=cb-live')).body.data).toEqual([])
    expect((await p.test.call('GET', `/v1/events/${liveEvents[0].id}`)).status).toBe(404)
    expect((await p.test.call('POST', `/v1/events/${liveEvents[0].id}/redeliver`, {})).status).toBe(404)
  })

  it('document submissions and their Idempotency-Key are per mode', async () => {
    const p = await pair()
    await sfox.addUser('kyc-user', p.testAccount.account)
    await sfox.addUser('kyc-user', p.liveAccount.account)
    const pdf = new Uint8Array(64)
    pdf.set([0x25, 0x50, 0x44, 0x46, 0x2d])
    const send = async (caller: Caller) => {
      const form = new FormData()
      form.append('files', new Blob([pdf], { type: 'application/pdf' }), 'id.pdf')
      form.append('file_types', JSON.stringify({ 'id.pdf': 'ID' }))
      const res = await fetch(`${gateway.url}/v1/users/kyc-user/documents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${caller.key}`, 'idempotency-key': 'same-key' },
        body: form,
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    const [t, l] = [await send(p.test), await send(p.live)]
    expect([t.status, l.status]).toEqual([202, 202])
    expect(t.body.id).not.toBe(l.body.id)
    expect([t.body.livemode, l.body.livemode]).toEqual([false, true])
    expect((await p.test.call('GET', `/v1/document-submissions/${l.body.id}`)).status).toBe(404)
    const listed = await p.test.call('GET', '/v1/users/kyc-user/document-submissions')
    expect(listed.body.data.map((x: { id: string }) => x.id)).toEqual([t.body.id])
  })

  it('a live key with no live connection is 422 provider_not_configured, never the test connection', async () => {
    const p = await createQiPartner(gateway, qi)
    const live = (await gateway.admin('POST', `/partners/${p.id}/api-keys`, { mode: 'live' })).body.key as string
    const res = await gateway.request('POST', '/v1/transfers', { body: tedBody('ted-live', p.accountKey), key: live })
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('provider_not_configured')
    expect(res.body.detail).toContain('live qi connection')
    expect((await qi.requests({ credential: p.apiClientKey })).filter((r) => !r.path.startsWith('/test'))).toEqual([])
    // Connections are listed per mode; the test one is untouched.
    const listed = await gateway.admin('GET', `/partners/${p.id}/connections?mode=live`)
    expect(listed.body.data).toEqual([])
    const both = await gateway.admin('GET', `/partners/${p.id}/connections`)
    expect(both.body.data.map((c: { mode: string }) => c.mode)).toEqual(['test'])
  })

  it('each mode has its own rate limit budget', async () => {
    const p = await pair()
    await gateway.admin('PATCH', `/partners/${p.id}`, { rate_limit: 2 })
    // A fresh key lookup (the partner's limits ride with it).
    const fresh = async (mode: 'test' | 'live') => {
      const key = (await gateway.admin('POST', `/partners/${p.id}/api-keys`, { mode })).body.key as string
      return (path: string) => gateway.request('GET', path, { key })
    }
    const [test, live] = [await fresh('test'), await fresh('live')]
    expect((await test('/v1/transfers')).status).toBe(200)
    expect((await test('/v1/transfers')).status).toBe(200)
    await expect.poll(async () => (await test('/v1/transfers')).status).toBe(429)
    const liveAnswer = await live('/v1/transfers')
    expect(liveAnswer.status).toBe(200)
    expect(liveAnswer.headers.get('ratelimit-limit')).toBe('2')
  })

  it('admin writes name the mode: without ?mode a connection is refused, so nothing lands in a mode by accident', async () => {
    const p = await createQiPartner(gateway, qi)
    const body = {
      api_client_key: p.apiClientKey,
      private_key_pem: partnerKeyPair().privateKeyPem,
      qi_public_key_pem: qi.qiPublicKeyPem,
      base_url: qi.url,
      account_keys: [p.accountKey],
    }
    const missing = await gateway.admin('PUT', `/partners/${p.id}/connections/qi`, body)
    expect(missing.status).toBe(422)
    expect(missing.body.errors[0].field).toBe('mode')
    expect((await gateway.admin('DELETE', `/partners/${p.id}/connections/qi`)).status).toBe(422)
    expect((await gateway.admin('DELETE', `/partners/${p.id}/connections/qi?mode=live`)).body.code).toBe(
      'connection_not_found',
    )
  })
})
