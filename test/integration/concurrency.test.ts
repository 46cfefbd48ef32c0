import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

let gateway: Gateway
let sfox: SfoxSandbox

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([startGateway(), startSfox()])
  // The sandbox's own per-IP limit (250 / 10 s) is not what these tests are about.
  await sfox.settings({ rate_limit: { enabled: false } })
})
afterAll(async () => {
  await gateway?.close()
  await sfox?.close()
})

const count = <T>(items: T[], pick: (t: T) => unknown) =>
  items.reduce<Record<string, number>>((acc, item) => {
    const key = String(pick(item))
    acc[key] = (acc[key] ?? 0) + 1
    return acc
  }, {})

describe('idempotent create under concurrency', () => {
  it('100 simultaneous identical creates lead to exactly one sFOX create', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    // A slow sFOX keeps the first request in flight while the others arrive.
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer', delay_ms: 300, apiKey: p.sfoxKey })
    const results = await Promise.all(
      Array.from({ length: 100 }, () => p.call('POST', '/v1/transfers', paymentBody('race-1'))),
    )
    const statuses = count(results, (r) => r.status)
    expect(statuses['201']).toBe(1)
    expect((statuses['409'] ?? 0) + (statuses['200'] ?? 0)).toBe(99)
    for (const r of results.filter((r) => r.status === 409)) {
      expect(r.body.code).toBe('transfer_in_flight')
      expect(r.headers.get('retry-after')).toBe('1')
    }
    expect(
      await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: p.sfoxAccount }),
    ).toHaveLength(1)
    expect(await sfox.codes((await p.call('GET', '/v1/transfers/race-1')).body.provider_reference)).toHaveLength(1)
    // Once settled, every replay is the same transfer.
    const replay = await p.call('POST', '/v1/transfers', paymentBody('race-1'))
    expect(replay.status).toBe(200)
    expect(replay.body.status).toBe('pending_verification')
  })

  it('100 simultaneous creates with a fast sFOX still reach it once', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const results = await Promise.all(
      Array.from({ length: 100 }, () => p.call('POST', '/v1/transfers', paymentBody('race-2'))),
    )
    expect(count(results, (r) => r.status)['201']).toBe(1)
    expect(results.every((r) => [200, 201, 409].includes(r.status))).toBe(true)
    expect(
      await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: p.sfoxAccount }),
    ).toHaveLength(1)
  })

  it('concurrent creates with different bodies for one id: one wins, the rest are refused', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        p.call('POST', '/v1/transfers', paymentBody('race-3', { quantity: String(i + 1) })),
      ),
    )
    expect(count(results, (r) => r.status)['201']).toBe(1)
    expect(results.filter((r) => r.status === 422).every((r) => r.body.code === 'idempotency_key_reused')).toBe(true)
    expect(
      await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: p.sfoxAccount }),
    ).toHaveLength(1)
  })
})

describe('resend limits under concurrency', () => {
  it('20 simultaneous resends let exactly the limit through (no cooldown)', async () => {
    const p = await createSfoxPartner(gateway, sfox, { resend_limit: 3, resend_cooldown_seconds: 0 })
    await p.call('POST', '/v1/transfers', paymentBody('burst-1'))
    const results = await Promise.all(Array.from({ length: 20 }, () => p.call('POST', '/v1/transfers/burst-1/resend')))
    const statuses = count(results, (r) => r.status)
    expect(statuses).toEqual({ 200: 3, 429: 17 })
    expect(results.filter((r) => r.status === 429).every((r) => r.body.code === 'resend_limit_reached')).toBe(true)
    expect(
      await sfox.requests({ path: '/v1/enterprise/transfer/resend-confirmation', account: p.sfoxAccount }),
    ).toHaveLength(3)
    expect((await p.call('GET', '/v1/transfers/burst-1')).body.verification).toMatchObject({
      resends_used: 3,
      resends_remaining: 0,
    })
  })

  it('with the default 60 s cooldown none of 20 gets through: the code sent at creation starts it', async () => {
    const p = await createSfoxPartner(gateway, sfox, { resend_limit: 3 })
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('burst-2'))
    // The code sent at creation starts the cooldown; resend_cooldown_seconds=0 for the first send only is not a thing.
    expect(Date.parse(t.verification.next_resend_at) - Date.parse(t.verification.code_sent_at)).toBe(60_000)
    const results = await Promise.all(Array.from({ length: 20 }, () => p.call('POST', '/v1/transfers/burst-2/resend')))
    expect(count(results, (r) => r.status)).toEqual({ 429: 20 })
    expect(results.every((r) => r.body.code === 'resend_cooldown')).toBe(true)
    expect(
      await sfox.requests({ path: '/v1/enterprise/transfer/resend-confirmation', account: p.sfoxAccount }),
    ).toHaveLength(0)
  })

  it('cooldown of 2 s: of 20 simultaneous resends after it elapsed, exactly one goes through', async () => {
    const p = await createSfoxPartner(gateway, sfox, { resend_limit: 3, resend_cooldown_seconds: 2 })
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('burst-3'))
    // Wait for the moment itself: the cooldown the creation's code started has run out.
    const readyAt = Date.parse(t.verification.next_resend_at)
    expect(readyAt - Date.parse(t.verification.code_sent_at)).toBe(2000)
    await expect.poll(() => Date.now(), { timeout: 10_000, interval: 20 }).toBeGreaterThan(readyAt)
    const results = await Promise.all(Array.from({ length: 20 }, () => p.call('POST', '/v1/transfers/burst-3/resend')))
    expect(count(results, (r) => r.status)).toEqual({ 200: 1, 429: 19 })
    expect(results.filter((r) => r.status === 429).every((r) => r.body.code === 'resend_cooldown')).toBe(true)
    expect(
      await sfox.requests({ path: '/v1/enterprise/transfer/resend-confirmation', account: p.sfoxAccount }),
    ).toHaveLength(1)
  })
})

describe('confirm attempts under concurrency', () => {
  it('20 simultaneous wrong codes use exactly the 5 attempts; the rest never reach sFOX', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('guess-1'))
    const code = await sfox.latestCode(t.provider_reference)
    const wrong = code === '000000' ? '111111' : '000000'
    const results = await Promise.all(
      Array.from({ length: 20 }, () => p.call('POST', '/v1/transfers/guess-1/confirm', { code: wrong })),
    )
    const codes = count(results, (r) => r.body.code)
    expect(codes).toEqual({ verification_code_invalid: 5, verification_attempts_exhausted: 15 })
    expect(await sfox.requests({ path: '/v1/enterprise/transfer/confirm', account: p.sfoxAccount })).toHaveLength(5)
  })

  it('10 simultaneous right codes: exactly one completes it; the rest are refused without harm', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('guess-2'))
    const code = await sfox.latestCode(t.provider_reference)
    const results = await Promise.all(
      Array.from({ length: 10 }, () => p.call('POST', '/v1/transfers/guess-2/confirm', { code })),
    )
    expect(results.filter((r) => r.status === 200)).toHaveLength(1)
    // Five confirms hold the five attempts while in flight; later ones find none left or the transfer done.
    const refusals = new Set(results.filter((r) => r.status !== 200).map((r) => r.body.code))
    for (const code of refusals)
      expect(['transfer_not_pending_verification', 'verification_attempts_exhausted']).toContain(code)
    // sFOX accepted one code (201): every other confirm that reached it found the transfer no longer
    // pending (422), which judges no code and gives the attempt back (docs/api.md), so one given back
    // may be claimed again before the completion is written, and a sixth may reach sFOX. At most 5 at once.
    const forwarded = await sfox.requests({ path: '/v1/enterprise/transfer/confirm', account: p.sfoxAccount })
    expect(forwarded.filter((r) => r.status === 201)).toHaveLength(1)
    expect(forwarded.filter((r) => r.status !== 201).every((r) => r.status === 422)).toBe(true)
    expect(forwarded.length).toBeLessThanOrEqual(10)
    expect((await p.call('GET', '/v1/transfers/guess-2')).body.status).toBe('completed')
  })
})
