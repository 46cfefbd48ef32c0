import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
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

const newPartner = (limits?: Record<string, number | null>) => createSfoxPartner(gateway, sfox, limits)

describe('create', () => {
  it('a PAYMENT waits for verification, with the documented resource shape', async () => {
    const p = await newPartner()
    const res = await p.call('POST', '/v1/transfers', { ...paymentBody('pay-1'), metadata: { order: 'o-1' } })
    expect(res.status).toBe(201)
    expect(res.headers.get('content-type')).toContain('application/json')
    const t = res.body
    expect(t).toMatchObject({
      object: 'transfer',
      id: 'pay-1',
      provider: 'sfox',
      status: 'pending_verification',
      provider_status: 'PENDING',
      sfox: {
        user_id: 'user-1',
        type: 'PAYMENT',
        purpose: 'GOOD',
        currency: 'eth',
        quantity: '0.1',
        rate: '2000',
        description: 'Gift card',
      },
      verification: {
        required: true,
        channel: 'email',
        resends_used: 0,
        resends_remaining: 3,
        attempts_remaining: 5,
        code_expires_at: null,
      },
      failure: null,
      metadata: { order: 'o-1' },
    })
    expect(t.provider_reference).toMatch(/^tr_[0-9a-z]{26}$/)
    expect(Date.parse(t.verification.next_resend_at) - Date.parse(t.verification.code_sent_at)).toBe(60_000)
    expect(Date.parse(t.created_at)).toBeLessThanOrEqual(Date.parse(t.updated_at))
    // The pending window (PENDING_TTL_SECONDS, a day by default) counts from the create.
    expect(Date.parse(t.verification.expires_at) - Date.parse(t.created_at)).toBe(86_400_000)

    // sFOX got the derived id, numbers as JSON numbers, and emailed one code.
    const [sent] = await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: p.sfoxAccount })
    expect(sent!.body).toEqual({
      transfer_id: t.provider_reference,
      description: 'Gift card',
      purpose: 'GOOD',
      type: 'PAYMENT',
      user_id: 'user-1',
      currency: 'eth',
      quantity: 0.1,
      rate: 2000,
    })
    expect(await sfox.codes(t.provider_reference)).toHaveLength(1)
  })

  it('a PAYOUT completes at once and needs no code', async () => {
    const p = await newPartner()
    const res = await p.call('POST', '/v1/transfers', paymentBody('out-1', { type: 'PAYOUT', quantity: 25, rate: '1' }))
    expect(res.status).toBe(201)
    expect(res.body).toMatchObject({
      status: 'completed',
      provider_status: 'COMPLETE',
      sfox: { type: 'PAYOUT', quantity: '25', rate: '1' },
      verification: { required: false, attempts_remaining: null, resends_remaining: 0, next_resend_at: null },
    })
    expect(await sfox.codes(res.body.provider_reference)).toHaveLength(0)
  })

  it('a replay with the same body returns the stored transfer (200) without calling sFOX again', async () => {
    const p = await newPartner()
    const first = await p.call('POST', '/v1/transfers', paymentBody('idem-1'))
    // Same values, other key order and number spelling: still the same request.
    const replay = await p.call('POST', '/v1/transfers', {
      sfox: {
        description: 'Gift card',
        rate: 2000,
        quantity: 0.1,
        currency: 'eth',
        purpose: 'GOOD',
        type: 'PAYMENT',
        user_id: 'user-1',
      },
      provider: 'sfox',
      transfer_id: 'idem-1',
    })
    expect(first.status).toBe(201)
    expect(replay.status).toBe(200)
    expect(replay.body).toEqual(first.body)
    expect(
      await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: p.sfoxAccount }),
    ).toHaveLength(1)
  })

  it('the same transfer_id with another body is idempotency_key_reused and changes nothing', async () => {
    const p = await newPartner()
    await p.call('POST', '/v1/transfers', paymentBody('idem-2'))
    const other = await p.call('POST', '/v1/transfers', paymentBody('idem-2', { quantity: '0.2' }))
    expect(other.status).toBe(422)
    expect(other.headers.get('content-type')).toBe('application/problem+json')
    expect(other.body).toMatchObject({ code: 'idempotency_key_reused', status: 422 })
    const stored = await p.call('GET', '/v1/transfers/idem-2')
    expect(stored.body.sfox.quantity).toBe('0.1')
    const withMetadata = await p.call('POST', '/v1/transfers', { ...paymentBody('idem-2'), metadata: { a: 'b' } })
    expect(withMetadata.body.code).toBe('idempotency_key_reused')
  })

  it('a live key without a live sFOX connection gets provider_not_configured and nothing is stored', async () => {
    // (A test key without one is served by the simulator: simulator.test.ts.)
    const partner = await gateway.admin('POST', '/partners', { name: 'No connection' })
    const key = await gateway.admin('POST', `/partners/${partner.body.id}/api-keys`, { mode: 'live' })
    const res = await gateway.request('POST', '/v1/transfers', { body: paymentBody('nocon-1'), key: key.body.key })
    expect(res.status).toBe(422)
    expect(res.body.code).toBe('provider_not_configured')
    expect((await gateway.request('GET', '/v1/transfers/nocon-1', { key: key.body.key })).status).toBe(404)
  })
})

describe('confirm', () => {
  it('a retried confirm whose first answer was lost says where the transfer is now: completed', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('lost-1'))
    const code = await sfox.latestCode(t.provider_reference)
    // sFOX confirms it, but the answer the gateway gets is a 502.
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer/confirm',
      status: 502,
      body: { error: 'Bad Gateway' },
      after: true,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers/lost-1/confirm', { code })).status).toBe(502)
    const retried = await p.call('POST', '/v1/transfers/lost-1/confirm', { code })
    expect(retried.status).toBe(409)
    expect(retried.body).toMatchObject({ code: 'transfer_not_pending_verification', transfer_status: 'completed' })
    // Learnt before answering, not afterwards.
    expect((await p.call('GET', '/v1/transfers/lost-1')).body.status).toBe('completed')
  })

  it('"not pending" from sFOX while it still lists the transfer pending is retryable, never a verdict', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('contradiction-1'))
    const code = await sfox.latestCode(t.provider_reference)
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer/confirm',
      status: 422,
      body: { error: 'Funds transfer is not pending verification.' },
      apiKey: p.sfoxKey,
    })
    const refused = await p.call('POST', '/v1/transfers/contradiction-1/confirm', { code })
    expect(refused.status).toBe(503)
    expect(refused.body.code).toBe('service_unavailable')
    expect(refused.headers.get('retry-after')).toBe('5')
    const pending = (await p.call('GET', '/v1/transfers/contradiction-1')).body
    expect(pending).toMatchObject({ status: 'pending_verification', verification: { attempts_remaining: 5 } })
    // The payment could still be confirmed, and is.
    const confirmed = await p.call('POST', '/v1/transfers/contradiction-1/confirm', { code })
    expect(confirmed.body.status).toBe('completed')
  })

  it('forwards the code and completes the transfer', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('conf-1'))
    const code = await sfox.latestCode(t.provider_reference)
    const res = await p.call('POST', '/v1/transfers/conf-1/confirm', { code })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'completed', provider_status: 'COMPLETE' })
    // Only a wrong code spends an attempt: the right one leaves all five.
    expect(res.body.verification.attempts_remaining).toBe(5)
    const [forwarded] = await sfox.requests({
      method: 'POST',
      path: '/v1/enterprise/transfer/confirm',
      account: p.sfoxAccount,
    })
    expect(forwarded!.body).toEqual({ transfer_id: t.provider_reference, otp: '[redacted]' })
    expect((await p.call('GET', '/v1/transfers/conf-1')).body.status).toBe('completed')
  })

  it("a wrong code is verification_code_invalid with the attempts left, keeping sFOX's message", async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('conf-2'))
    const code = await sfox.latestCode(t.provider_reference)
    const wrong = code === '000000' ? '111111' : '000000'
    const res = await p.call('POST', '/v1/transfers/conf-2/confirm', { code: wrong })
    expect(res.status).toBe(422)
    expect(res.body).toMatchObject({
      code: 'verification_code_invalid',
      attempts_remaining: 4,
      provider_error: { provider: 'sfox', status: 422, message: 'Invalid code.' },
    })
    expect(typeof res.body.request_id).toBe('string')
    expect(res.headers.get('x-request-id')).toBe(res.body.request_id)
    expect((await p.call('GET', '/v1/transfers/conf-2')).body.verification.attempts_remaining).toBe(4)
    const right = await p.call('POST', '/v1/transfers/conf-2/confirm', { code })
    expect(right.body.status).toBe('completed')
    expect(right.body.verification.attempts_remaining).toBe(4)
  })

  it('an expired code is verification_code_expired and does not use an attempt', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('conf-3'))
    const code = await sfox.latestCode(t.provider_reference)
    await sfox.advanceClock(11 * 60 * 1000)
    const res = await p.call('POST', '/v1/transfers/conf-3/confirm', { code })
    expect(res.status).toBe(422)
    expect(res.body).toMatchObject({
      code: 'verification_code_expired',
      attempts_remaining: 5,
      provider_error: { message: 'Code expired. Request a new code for this transfer.' },
    })
    expect((await p.call('GET', '/v1/transfers/conf-3')).body.verification.attempts_remaining).toBe(5)
  })

  it('after the last attempt, confirms are verification_attempts_exhausted and never reach sFOX', async () => {
    const p = await newPartner({ confirm_attempts: 2 })
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('conf-4'))
    const code = await sfox.latestCode(t.provider_reference)
    const wrong = code === '000000' ? '111111' : '000000'
    expect((await p.call('POST', '/v1/transfers/conf-4/confirm', { code: wrong })).body.attempts_remaining).toBe(1)
    expect((await p.call('POST', '/v1/transfers/conf-4/confirm', { code: wrong })).body.attempts_remaining).toBe(0)
    const exhausted = await p.call('POST', '/v1/transfers/conf-4/confirm', { code })
    expect(exhausted.status).toBe(422)
    expect(exhausted.body).toMatchObject({ code: 'verification_attempts_exhausted', attempts_remaining: 0 })
    const confirms = await sfox.requests({
      method: 'POST',
      path: '/v1/enterprise/transfer/confirm',
      account: p.sfoxAccount,
    })
    expect(confirms).toHaveLength(2)
    // A new code would be of no use either.
    const resend = await p.call('POST', '/v1/transfers/conf-4/resend')
    expect(resend.body.code).toBe('verification_attempts_exhausted')
    expect((await p.call('GET', '/v1/transfers/conf-4')).body.status).toBe('pending_verification')
  })

  it('a transfer that is not pending is 409 transfer_not_pending_verification', async () => {
    const p = await newPartner()
    const payout = await p.call('POST', '/v1/transfers', paymentBody('conf-5', { type: 'PAYOUT' }))
    expect(payout.body.status).toBe('completed')
    const res = await p.call('POST', '/v1/transfers/conf-5/confirm', { code: '123456' })
    expect(res.status).toBe(409)
    expect(res.body).toMatchObject({ code: 'transfer_not_pending_verification', transfer_status: 'completed' })
    expect(
      await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer/confirm', account: p.sfoxAccount }),
    ).toHaveLength(0)
  })

  it('when sFOX says the transfer is no longer pending, the gateway learns its real status before answering', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('conf-6'))
    await sfox.setStatus(t.provider_reference, 'CANCELED', p.sfoxAccount)
    const res = await p.call('POST', '/v1/transfers/conf-6/confirm', { code: '123456' })
    expect(res.status).toBe(409)
    expect(res.body).toMatchObject({ code: 'transfer_not_pending_verification', transfer_status: 'canceled' })
    expect(res.body.provider_error.message).toBe('Funds transfer is not pending verification.')
    expect((await p.call('GET', '/v1/transfers/conf-6')).body.status).toBe('canceled')
    expect((await p.call('GET', '/v1/transfers/conf-6')).body.verification.attempts_remaining).toBe(5)
  })

  it('an unknown transfer is 404 transfer_not_found', async () => {
    const p = await newPartner()
    const res = await p.call('POST', '/v1/transfers/nope/confirm', { code: '123456' })
    expect(res.status).toBe(404)
    expect(res.body.code).toBe('transfer_not_found')
  })
})

describe('resend', () => {
  it('sends a new code (the old one stops working) and counts it', async () => {
    // Fixed, different codes for the first send and the resend: the old code is always a wrong one.
    await sfox.settings({ fixed_otp: '111111' })
    try {
      const p = await newPartner({ resend_cooldown_seconds: 0 })
      const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('res-1'))
      const first = await sfox.latestCode(t.provider_reference)
      expect(first).toBe('111111')
      await sfox.settings({ fixed_otp: '222222' })
      const res = await p.call('POST', '/v1/transfers/res-1/resend')
      expect(res.status).toBe(200)
      expect(res.body.verification).toMatchObject({ resends_used: 1, resends_remaining: 2 })
      expect(Date.parse(res.body.verification.code_sent_at)).toBeGreaterThanOrEqual(
        Date.parse(t.verification.code_sent_at),
      )
      const codes = await sfox.codes(t.provider_reference)
      expect(codes.map((c) => c.code)).toEqual(['222222', '111111'])
      expect((await p.call('POST', '/v1/transfers/res-1/confirm', { code: first })).body).toMatchObject({
        code: 'verification_code_invalid',
        attempts_remaining: 4,
      })
      expect((await p.call('POST', '/v1/transfers/res-1/confirm', { code: '222222' })).body.status).toBe('completed')
    } finally {
      await sfox.settings({ fixed_otp: null })
    }
  })

  it('inside the cooldown it is 429 resend_cooldown with Retry-After, and sFOX is not called', async () => {
    const p = await newPartner()
    await p.call('POST', '/v1/transfers', paymentBody('res-2'))
    const res = await p.call('POST', '/v1/transfers/res-2/resend')
    expect(res.status).toBe(429)
    expect(res.body).toMatchObject({ code: 'resend_cooldown', resends_remaining: 3 })
    const retryAfter = Number(res.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThan(55)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(
      await sfox.requests({ path: '/v1/enterprise/transfer/resend-confirmation', account: p.sfoxAccount }),
    ).toHaveLength(0)
  })

  it('over the limit it is 429 resend_limit_reached', async () => {
    const p = await newPartner({ resend_cooldown_seconds: 0, resend_limit: 2 })
    await p.call('POST', '/v1/transfers', paymentBody('res-3'))
    expect((await p.call('POST', '/v1/transfers/res-3/resend')).status).toBe(200)
    expect((await p.call('POST', '/v1/transfers/res-3/resend')).status).toBe(200)
    const res = await p.call('POST', '/v1/transfers/res-3/resend')
    expect(res.status).toBe(429)
    expect(res.body).toMatchObject({ code: 'resend_limit_reached', resends_remaining: 0 })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await p.call('GET', '/v1/transfers/res-3')).body.verification).toMatchObject({
      resends_used: 2,
      resends_remaining: 0,
      next_resend_at: null,
    })
    expect(
      await sfox.requests({ path: '/v1/enterprise/transfer/resend-confirmation', account: p.sfoxAccount }),
    ).toHaveLength(2)
  })

  it('a resend sFOX refuses does not use the quota', async () => {
    const p = await newPartner({ resend_cooldown_seconds: 0, resend_limit: 1 })
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('res-4'))
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer/resend-confirmation',
      status: 503,
      apiKey: p.sfoxKey,
    })
    const refused = await p.call('POST', '/v1/transfers/res-4/resend')
    expect(refused.status).toBe(502)
    expect(refused.body.code).toBe('provider_unavailable')
    const after = await p.call('GET', '/v1/transfers/res-4')
    expect(after.body.verification).toMatchObject({
      resends_used: 0,
      resends_remaining: 1,
      code_sent_at: t.verification.code_sent_at,
    })
    expect((await p.call('POST', '/v1/transfers/res-4/resend')).status).toBe(200)
  })

  it('sFOX sends by email only: another channel is a field error', async () => {
    const p = await newPartner({ resend_cooldown_seconds: 0 })
    await p.call('POST', '/v1/transfers', paymentBody('res-5'))
    const res = await p.call('POST', '/v1/transfers/res-5/resend', { channel: 'sms' })
    expect(res.status).toBe(422)
    expect(res.body.errors[0]).toMatchObject({ field: 'channel' })
    expect((await p.call('POST', '/v1/transfers/res-5/resend', { channel: 'email' })).status).toBe(200)
  })
})

describe('cancel', () => {
  it('cancels at sFOX, then refuses confirms; canceling again returns it', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('can-1'))
    const res = await p.call('POST', '/v1/transfers/can-1/cancel')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'canceled', provider_status: 'CANCELED' })
    const [atSfox] = (await sfox.transfers(p.sfoxAccount)).filter((x) => x.transfer_id === t.provider_reference)
    expect(atSfox.transfer_status_code).toBe('CANCELED')
    const again = await p.call('POST', '/v1/transfers/can-1/cancel')
    expect(again.status).toBe(200)
    expect(again.body.status).toBe('canceled')
    expect(await sfox.requests({ method: 'DELETE', account: p.sfoxAccount })).toHaveLength(1)
    const confirm = await p.call('POST', '/v1/transfers/can-1/confirm', {
      code: await sfox.latestCode(t.provider_reference),
    })
    expect(confirm.status).toBe(409)
  })

  it('a completed transfer cannot be canceled', async () => {
    const p = await newPartner()
    await p.call('POST', '/v1/transfers', paymentBody('can-2', { type: 'PAYOUT' }))
    const res = await p.call('POST', '/v1/transfers/can-2/cancel')
    expect(res.status).toBe(409)
    expect(res.body.code).toBe('transfer_not_pending_verification')
  })

  it('if sFOX completed it meanwhile, cancel reports that instead', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('can-3'))
    await sfox.setStatus(t.provider_reference, 'COMPLETE', p.sfoxAccount)
    const res = await p.call('POST', '/v1/transfers/can-3/cancel')
    expect(res.status).toBe(409)
    expect(res.body.transfer_status).toBe('completed')
    expect((await p.call('GET', '/v1/transfers/can-3')).body.status).toBe('completed')
  })
})

describe('read', () => {
  it('lists newest first with cursor pagination and filters', async () => {
    const p = await newPartner()
    for (let i = 1; i <= 5; i++) {
      await p.call('POST', '/v1/transfers', paymentBody(`list-${i}`, i % 2 ? {} : { type: 'PAYOUT' }))
    }
    const page1 = await p.call('GET', '/v1/transfers?limit=2')
    expect(page1.status).toBe(200)
    expect(page1.body).toMatchObject({ object: 'list', has_more: true })
    expect(page1.body.data.map((t: any) => t.id)).toEqual(['list-5', 'list-4'])
    const page2 = await p.call('GET', '/v1/transfers?limit=2&starting_after=list-4')
    expect(page2.body.data.map((t: any) => t.id)).toEqual(['list-3', 'list-2'])
    const page3 = await p.call('GET', '/v1/transfers?limit=2&starting_after=list-2')
    expect(page3.body).toMatchObject({ has_more: false })
    expect(page3.body.data.map((t: any) => t.id)).toEqual(['list-1'])

    const pending = await p.call('GET', '/v1/transfers?status=pending_verification&limit=10')
    expect(pending.body.data.map((t: any) => t.id)).toEqual(['list-5', 'list-3', 'list-1'])
    const qi = await p.call('GET', '/v1/transfers?provider=qi')
    expect(qi.body.data).toEqual([])
    expect((await p.call('GET', '/v1/transfers')).body.data).toHaveLength(5)
  })

  it('refuses bad list parameters with field errors', async () => {
    const p = await newPartner()
    const res = await p.call('GET', '/v1/transfers?limit=0&status=done')
    expect(res.status).toBe(422)
    expect(res.body.errors.map((e: any) => e.field).sort()).toEqual(['limit', 'status'])
    const cursor = await p.call('GET', '/v1/transfers?starting_after=missing')
    expect(cursor.status).toBe(422)
    expect(cursor.body.errors[0].field).toBe('starting_after')
  })
})
