import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

let gateway: Gateway
let sfox: SfoxSandbox

beforeAll(async () => {
  // A short provider timeout so a "hung" sFOX is detected quickly.
  ;[gateway, sfox] = await Promise.all([startGateway({ vars: { PROVIDER_TIMEOUT_MS: '800' } }), startSfox()])
})
afterAll(async () => {
  await gateway?.close()
  await sfox?.close()
})

const newPartner = () => createSfoxPartner(gateway, sfox, { resend_cooldown_seconds: 0 })
const creates = (account: string) => sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account })
/**
 * sFOX logs a request once it has answered it; a request whose answer a fault holds back is logged late. Waits for
 * `count` requests to `path` to have been answered: the lost answer has landed before the test goes on.
 */
const answered = (account: string, path: string, count: number) =>
  expect
    .poll(async () => (await sfox.requests({ method: 'POST', path, account })).length, {
      timeout: 15_000,
      interval: 50,
    })
    .toBe(count)

describe('sFOX down or slow during create', () => {
  it('a 5xx is 502 provider_unavailable; the transfer is kept and a replay finishes it', async () => {
    const p = await newPartner()
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer', status: 503, apiKey: p.sfoxKey })
    const failed = await p.call('POST', '/v1/transfers', paymentBody('down-1'))
    expect(failed.status).toBe(502)
    expect(failed.body).toMatchObject({
      code: 'provider_unavailable',
      provider_error: { provider: 'sfox', status: 503 },
    })

    const kept = await p.call('GET', '/v1/transfers/down-1')
    expect(kept.status).toBe(200)
    expect(kept.body.status).toBe('submitting')

    const retried = await p.call('POST', '/v1/transfers', paymentBody('down-1'))
    expect(retried.status).toBe(201)
    expect(retried.body.status).toBe('pending_verification')
    expect(retried.body.provider_reference).toBe(kept.body.provider_reference)
    expect((await p.call('POST', '/v1/transfers', paymentBody('down-1'))).status).toBe(200)
  })

  it("a timeout after sFOX created it is 504; the replay adopts sFOX's copy instead of failing on the duplicate", async () => {
    const p = await newPartner()
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      delay_ms: 1500,
      after: true,
      apiKey: p.sfoxKey,
    })
    const timedOut = await p.call('POST', '/v1/transfers', paymentBody('slow-1'))
    expect(timedOut.status).toBe(504)
    expect(timedOut.body.code).toBe('provider_timeout')
    await answered(p.sfoxAccount, '/v1/enterprise/transfer', 1)

    const retried = await p.call('POST', '/v1/transfers', paymentBody('slow-1'))
    expect(retried.status).toBe(201)
    expect(retried.body).toMatchObject({ status: 'pending_verification', provider_status: 'PENDING' })
    // Two creates reached sFOX (the lost one and the retry, answered "already exists"); one transfer exists.
    const attempts = await creates(p.sfoxAccount)
    expect(attempts.map((r) => r.status)).toEqual([201, 422])
    expect(
      (await sfox.transfers(p.sfoxAccount)).filter((t) => t.transfer_id === retried.body.provider_reference),
    ).toHaveLength(1)
    // The end user's code from the first create works.
    const code = await sfox.latestCode(retried.body.provider_reference)
    expect((await p.call('POST', '/v1/transfers/slow-1/confirm', { code })).body.status).toBe('completed')
  })

  it('a refusal of a replayed create proves nothing about the first attempt: the transfer is kept, never made twice', async () => {
    const p = await newPartner()
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      delay_ms: 1500,
      after: true,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers', paymentBody('slow-ref', { type: 'PAYOUT' }))).status).toBe(504)
    await answered(p.sfoxAccount, '/v1/enterprise/transfer', 1)
    // The replay is refused outright (say the key was rotated meanwhile): sFOX's answer says nothing of the first create.
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      status: 403,
      body: { error: 'Forbidden' },
      apiKey: p.sfoxKey,
    })
    const refused = await p.call('POST', '/v1/transfers', paymentBody('slow-ref', { type: 'PAYOUT' }))
    expect(refused.status).toBeGreaterThanOrEqual(400)
    expect((await p.call('GET', '/v1/transfers/slow-ref')).body.status).toBe('submitting')
    // The next replay finds sFOX's transfer; one PAYOUT exists, not two.
    const adopted = await p.call('POST', '/v1/transfers', paymentBody('slow-ref', { type: 'PAYOUT' }))
    expect(adopted.status).toBe(201)
    expect(adopted.body.status).toBe('completed')
    expect((await sfox.transfers(p.sfoxAccount)).filter((t) => t.type === 'PAYOUT')).toHaveLength(1)
  })

  it('a resend that timed out stays counted (it may have sent a code); one sFOX refused does not', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('resend-slow'))
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer/resend-confirmation',
      delay_ms: 1500,
      after: true,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers/resend-slow/resend')).status).toBe(504)
    expect((await p.call('GET', '/v1/transfers/resend-slow')).body.verification.resends_used).toBe(1)
    await answered(p.sfoxAccount, '/v1/enterprise/transfer/resend-confirmation', 1)
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer/resend-confirmation',
      status: 503,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers/resend-slow/resend')).status).toBe(502)
    // A 503 is sFOX saying it failed: not counted.
    expect((await p.call('GET', '/v1/transfers/resend-slow')).body.verification.resends_used).toBe(1)
    void t
  })

  it('also when sFOX answers a duplicate with the existing transfer', async () => {
    await sfox.settings({ duplicate_transfer_id: 'return_existing' })
    try {
      const p = await newPartner()
      await sfox.fault({
        method: 'POST',
        path: '/v1/enterprise/transfer',
        delay_ms: 1500,
        after: true,
        apiKey: p.sfoxKey,
      })
      expect((await p.call('POST', '/v1/transfers', paymentBody('slow-2'))).status).toBe(504)
      await answered(p.sfoxAccount, '/v1/enterprise/transfer', 1)
      const retried = await p.call('POST', '/v1/transfers', paymentBody('slow-2'))
      expect(retried.status).toBe(201)
      expect(retried.body.status).toBe('pending_verification')
      expect((await creates(p.sfoxAccount)).map((r) => r.status)).toEqual([201, 201])
    } finally {
      await sfox.settings({ duplicate_transfer_id: 'error' })
    }
  })

  it('a refusal by sFOX (422) is provider_rejected with its message, and the id stays free', async () => {
    const p = await newPartner()
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      status: 422,
      body: { error: 'Currency not supported.' },
      apiKey: p.sfoxKey,
    })
    const refused = await p.call('POST', '/v1/transfers', paymentBody('ref-1'))
    expect(refused.status).toBe(422)
    expect(refused.body).toMatchObject({
      code: 'provider_rejected',
      provider_error: { status: 422, message: 'Currency not supported.' },
    })
    expect((await p.call('GET', '/v1/transfers/ref-1')).status).toBe(404)
    // Fixed request, same id: accepted.
    expect((await p.call('POST', '/v1/transfers', paymentBody('ref-1', { currency: 'usd' }))).status).toBe(201)
  })

  it('wrong sFOX credentials are 502 provider_authentication_failed', async () => {
    const { createPartner } = await import('../helpers/gateway')
    const p = await createPartner(gateway, { sfox: { baseUrl: sfox.url, apiKey: 'not-a-real-key' } })
    const res = await p.call('POST', '/v1/transfers', paymentBody('auth-1'))
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({
      code: 'provider_authentication_failed',
      provider_error: { status: 401, message: 'invalid token. check authorization header.' },
    })
    expect(JSON.stringify(res.body)).not.toContain('not-a-real-key')
  })

  it('sFOX rate limiting is 503 provider_rate_limited with Retry-After', async () => {
    const p = await newPartner()
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer', status: 429, apiKey: p.sfoxKey })
    const res = await p.call('POST', '/v1/transfers', paymentBody('rl-1'))
    expect(res.status).toBe(503)
    expect(res.body.code).toBe('provider_rate_limited')
    expect(res.headers.get('retry-after')).toBe('60')
    expect((await p.call('GET', '/v1/transfers/rl-1')).body.status).toBe('submitting')
  })

  it("a provider's own Retry-After is passed on, in seconds or as an HTTP date", async () => {
    const p = await newPartner()
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      status: 429,
      apiKey: p.sfoxKey,
      response_headers: { 'retry-after': '7' },
    })
    expect((await p.call('POST', '/v1/transfers', paymentBody('rl-2'))).headers.get('retry-after')).toBe('7')
    const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString()
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      status: 429,
      apiKey: p.sfoxKey,
      response_headers: { 'retry-after': inTwoMinutes },
    })
    const dated = Number((await p.call('POST', '/v1/transfers', paymentBody('rl-2'))).headers.get('retry-after'))
    expect(dated).toBeGreaterThanOrEqual(115)
    expect(dated).toBeLessThanOrEqual(121)
  })

  it('an unreachable sFOX is 502 and the transfer waits in submitting', async () => {
    const { createPartner } = await import('../helpers/gateway')
    const p = await createPartner(gateway, { sfox: { baseUrl: 'http://127.0.0.1:9', apiKey: 'k' } })
    const res = await p.call('POST', '/v1/transfers', paymentBody('gone-1'))
    expect(res.status).toBe(502)
    expect(res.body.code).toBe('provider_unavailable')
    expect((await p.call('GET', '/v1/transfers/gone-1')).body.status).toBe('submitting')
  })
})

describe('sFOX down during confirm', () => {
  it('the attempt is given back', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('cdown-1'))
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer/confirm', status: 500, apiKey: p.sfoxKey })
    const res = await p.call('POST', '/v1/transfers/cdown-1/confirm', {
      code: await sfox.latestCode(t.provider_reference),
    })
    expect(res.status).toBe(502)
    expect((await p.call('GET', '/v1/transfers/cdown-1')).body.verification.attempts_remaining).toBe(5)
  })

  it('a timeout is 504 and the attempt is given back', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('cdown-2'))
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer/confirm', delay_ms: 1500, apiKey: p.sfoxKey })
    const res = await p.call('POST', '/v1/transfers/cdown-2/confirm', {
      code: await sfox.latestCode(t.provider_reference),
    })
    expect(res.status).toBe(504)
    expect((await p.call('GET', '/v1/transfers/cdown-2')).body.verification.attempts_remaining).toBe(5)
  })
})

describe('sFOX down during cancel', () => {
  it('is 502 and the transfer stays pending', async () => {
    const p = await newPartner()
    await p.call('POST', '/v1/transfers', paymentBody('xdown-1'))
    await sfox.fault({ method: 'DELETE', path: '/v1/enterprise/transfer/:id', status: 503, apiKey: p.sfoxKey })
    expect((await p.call('POST', '/v1/transfers/xdown-1/cancel')).status).toBe(502)
    expect((await p.call('GET', '/v1/transfers/xdown-1')).body.status).toBe('pending_verification')
    expect((await p.call('POST', '/v1/transfers/xdown-1/cancel')).body.status).toBe('canceled')
  })
})
