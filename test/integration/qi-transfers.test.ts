import { createPrivateKey } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateP521KeyPair } from '../../sandbox/qi/keys'
import { openDb } from '../helpers/db'
import { type Gateway, startGateway } from '../helpers/gateway'
import { createQiPartner, partnerKeyPair, type QiSandbox, startQi, tedBody } from '../helpers/qi'

let gateway: Gateway
let qi: QiSandbox
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  ;[gateway, qi] = await Promise.all([
    startGateway({
      // The sandbox's own 5-minute window, so its stale forgeries are stale here too; the default
      // window (QI_SIGNATURE_TOLERANCE_SECONDS) is tested in qi-verification.test.ts.
      vars: { PROVIDER_TIMEOUT_MS: '800', QI_SIGNATURE_TOLERANCE_SECONDS: '300' },
    }),
    startQi(),
  ])
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
  await qi?.close()
})

const newPartner = (limits?: Record<string, number | null>) => createQiPartner(gateway, qi, { limits })
const tedPath = (p: { accountKey: string }) => `/account/${p.accountKey}/ted`
const wrongToken = (token: string) => (token === '000000' ? '111111' : '000000')
/** The transfer's confirm lease as stored (set while a confirm is at QI, or its outcome unknown). */
const leaseOf = async (database: ReturnType<typeof openDb>, p: { id: string }, transferId: string) => {
  const [row] = await database.all<{ lease_until: number | null }>(
    'SELECT lease_until FROM transfers WHERE partner_id = ? AND transfer_id = ?',
    [p.id, transferId],
  )
  return row?.lease_until == null ? null : Number(row.lease_until)
}
const eventTypesOf = async (p: { call: (m: string, path: string) => Promise<any> }, id: string) =>
  (await p.call('GET', `/v1/events?transfer_id=${id}`)).body.data.map((e: any) => e.type).reverse()

describe('create', () => {
  it('sends a signed TED to QI and waits for the 2FA token', async () => {
    const p = await newPartner()
    const res = await p.call('POST', '/v1/transfers', {
      ...tedBody('ted-1', p.accountKey),
      metadata: { invoice: 'i-1' },
    })
    expect(res.status).toBe(201)
    const t = res.body
    expect(t).toMatchObject({
      object: 'transfer',
      id: 'ted-1',
      provider: 'qi',
      status: 'pending_verification',
      provider_status: 'pending_2fa_approval',
      qi: { account_key: p.accountKey, amount: '150.25', contact_type: 'sms', target_account: { ispb: '12345678' } },
      verification: { required: true, channel: 'sms', attempts_remaining: 5, resends_used: 0 },
      metadata: { invoice: 'i-1' },
    })
    expect(t.provider_reference).toMatch(/^[0-9a-f-]{36}$/)
    const ttl = Date.parse(t.verification.code_expires_at) - Date.parse(t.verification.code_sent_at)
    expect(ttl).toBe(5 * 60 * 1000)

    const [sent] = await qi.requests({ method: 'POST', path: tedPath(p) })
    expect(sent!.status).toBe(202)
    expect(sent!.body).toMatchObject({
      transaction_amount: 150.25,
      tfa_info: { approver_document_number: '98765432100', contact_type: 'sms' },
      target_account: { account_branch: '0001', account_type: 'checking_account' },
    })
    expect(sent!.body.request_control_key).toMatch(/^[0-9a-f-]{36}$/)
    expect(await qi.tokens(t.provider_reference)).toHaveLength(1)
  })

  it('validates every TED field with field-level errors, and QI is not called', async () => {
    const p = await newPartner()
    const res = await p.call(
      'POST',
      '/v1/transfers',
      tedBody('ted-bad', p.accountKey, {
        amount: '10.123',
        approver_document_number: '987.654.321-00',
        contact_type: 'device',
        target_account: {
          account_branch: '01',
          account_digit: '12',
          account_number: '12a',
          owner_document_number: '123',
          owner_name: '',
          account_type: 'current',
          ispb: '1234567',
        },
      }),
    )
    expect(res.status).toBe(422)
    const fields = res.body.errors.map((e: any) => e.field)
    expect(fields).toEqual(
      expect.arrayContaining([
        'qi.amount',
        'qi.approver_document_number',
        'qi.contact_type',
        'qi.target_account.account_branch',
        'qi.target_account.account_digit',
        'qi.target_account.account_number',
        'qi.target_account.owner_document_number',
        'qi.target_account.owner_name',
        'qi.target_account.account_type',
        'qi.target_account.ispb',
      ]),
    )
    expect((await p.call('POST', '/v1/transfers', tedBody('ted-bad2', p.accountKey, { amount: 0 }))).status).toBe(422)
    expect((await p.call('POST', '/v1/transfers', tedBody('ted-bad3', 'not-a-uuid'))).body.errors[0].field).toBe(
      'qi.account_key',
    )
    // (The connection check that ran when the partner was set up calls QI's /test endpoint only.)
    expect((await qi.requests({ credential: p.apiClientKey })).filter((r) => !r.path.startsWith('/test'))).toEqual([])
  })

  it('an account the partner may not use is 403 account_not_allowed and never reaches QI', async () => {
    const p = await newPartner()
    const res = await p.call('POST', '/v1/transfers', tedBody('ted-acct', p.otherAccountKey))
    expect(res.status).toBe(403)
    expect(res.body).toMatchObject({ code: 'account_not_allowed' })
    // (The connection check that ran when the partner was set up calls QI's /test endpoint only.)
    expect((await qi.requests({ credential: p.apiClientKey })).filter((r) => !r.path.startsWith('/test'))).toEqual([])
    expect((await p.call('GET', '/v1/transfers/ted-acct')).status).toBe(404)
  })

  it('50 concurrent identical creates make exactly one TED', async () => {
    const p = await newPartner()
    await qi.fault({ method: 'POST', path: '/account/:ak/ted', delay_ms: 200, apiClientKey: p.apiClientKey })
    const results = await Promise.all(
      Array.from({ length: 50 }, () => p.call('POST', '/v1/transfers', tedBody('ted-race', p.accountKey))),
    )
    expect(results.filter((r) => r.status === 201)).toHaveLength(1)
    expect(results.every((r) => [200, 201, 409].includes(r.status))).toBe(true)
    expect(await qi.requests({ method: 'POST', path: tedPath(p) })).toHaveLength(1)
  })

  it('a create that times out is retried without a second TED', async () => {
    const p = await newPartner()
    await qi.fault({
      method: 'POST',
      path: '/account/:ak/ted',
      delay_ms: 1500,
      after: true,
      apiClientKey: p.apiClientKey,
    })
    const first = await p.call('POST', '/v1/transfers', tedBody('ted-slow', p.accountKey))
    expect(first.status).toBe(504)
    expect((await p.call('GET', '/v1/transfers/ted-slow')).body).toMatchObject({
      status: 'submitting',
      provider_reference: null,
    })
    // QI logs a request once it has answered it: wait until the lost answer has landed there.
    await expect
      .poll(async () => (await qi.requests({ method: 'POST', path: tedPath(p) })).length, { timeout: 15_000 })
      .toBe(1)
    const retried = await p.call('POST', '/v1/transfers', tedBody('ted-slow', p.accountKey))
    expect(retried.status).toBe(201)
    expect(retried.body.status).toBe('pending_verification')
    // QI was asked by request_control_key first, found the TED, and no second create was sent.
    expect(await qi.requests({ method: 'POST', path: tedPath(p) })).toHaveLength(1)
    const lookups = await qi.requests({ method: 'GET', path: `/account/${p.accountKey}/teds` })
    expect(lookups).toHaveLength(1)
    const token = await qi.latestToken(retried.body.provider_reference)
    expect((await p.call('POST', '/v1/transfers/ted-slow/confirm', { code: token })).body.status).toBe('completed')
  })

  it('a create QI failed (5xx) is retried: looked up, not found, created once', async () => {
    const p = await newPartner()
    await qi.fault({ method: 'POST', path: '/account/:ak/ted', status: 500, apiClientKey: p.apiClientKey })
    expect((await p.call('POST', '/v1/transfers', tedBody('ted-500', p.accountKey))).status).toBe(502)
    const retried = await p.call('POST', '/v1/transfers', tedBody('ted-500', p.accountKey))
    expect(retried.status).toBe(201)
    expect((await qi.requests({ method: 'POST', path: tedPath(p) })).map((r) => r.status)).toEqual([500, 202])
  })
})

describe('confirm (validate_token)', () => {
  it('a right token sends the TED', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-ok', p.accountKey))
    const res = await p.call('POST', '/v1/transfers/ted-ok/confirm', {
      code: await qi.latestToken(t.provider_reference),
    })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'completed', provider_status: 'sent' })
    const [validate] = await qi.requests({
      method: 'PUT',
      path: `/account/${p.accountKey}/ted/${t.provider_reference}/validate_token`,
    })
    expect(validate!.body).toEqual({ token: '[redacted]' })
  })

  it('a TED QI accepts as pending is processing until its webhook says sent', async () => {
    await qi.settings({ approval_outcome: 'pending', settle_delay_ms: 300 })
    try {
      const p = await newPartner()
      const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-pend', p.accountKey))
      const res = await p.call('POST', '/v1/transfers/ted-pend/confirm', {
        code: await qi.latestToken(t.provider_reference),
      })
      expect(res.body).toMatchObject({ status: 'processing', provider_status: 'pending' })
      await expect
        .poll(async () => (await p.call('GET', '/v1/transfers/ted-pend')).body.status, { timeout: 5000 })
        .toBe('completed')
      const hooks = await qi.webhooks(t.provider_reference)
      expect(hooks.map((h) => [h.ted_status, h.status])).toEqual([
        ['pending', 200],
        ['sent', 200],
      ])
    } finally {
      await qi.settings({ approval_outcome: 'sent' })
    }
  })

  it('wrong tokens count down; the fifth ends the transfer as failed (TED000082)', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-five', p.accountKey))
    const wrong = wrongToken(await qi.latestToken(t.provider_reference))
    for (let left = 4; left >= 1; left--) {
      const res = await p.call('POST', '/v1/transfers/ted-five/confirm', { code: wrong })
      expect(res.status).toBe(422)
      expect(res.body).toMatchObject({
        code: 'verification_code_invalid',
        attempts_remaining: left,
        provider_error: { provider: 'qi', code: 'TED000084' },
      })
    }
    const last = await p.call('POST', '/v1/transfers/ted-five/confirm', { code: wrong })
    expect(last.status).toBe(422)
    expect(last.body).toMatchObject({
      code: 'verification_attempts_exhausted',
      attempts_remaining: 0,
      provider_error: { code: 'TED000082' },
    })
    const after = await p.call('GET', '/v1/transfers/ted-five')
    expect(after.body).toMatchObject({
      status: 'failed',
      provider_status: 'rejected',
      failure: { code: 'verification_attempts_exhausted' },
      verification: { attempts_remaining: 0 },
    })
    const more = await p.call('POST', '/v1/transfers/ted-five/confirm', { code: wrong })
    expect(more.status).toBe(409)
    expect(
      await qi.requests({ method: 'PUT', path: `/account/${p.accountKey}/ted/${t.provider_reference}/validate_token` }),
    ).toHaveLength(5)
  })

  it('an expired token is verification_code_expired (no attempt used); a resend brings a working one', async () => {
    const p = await newPartner({ resend_cooldown_seconds: 0 })
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-exp', p.accountKey))
    const old = await qi.latestToken(t.provider_reference)
    await qi.advanceClock(5 * 60 * 1000 + 1000)
    const expired = await p.call('POST', '/v1/transfers/ted-exp/confirm', { code: old })
    expect(expired.status).toBe(422)
    expect(expired.body).toMatchObject({
      code: 'verification_code_expired',
      attempts_remaining: 5,
      provider_error: { code: 'TED000083' },
    })
    const resent = await p.call('POST', '/v1/transfers/ted-exp/resend')
    expect(resent.status).toBe(200)
    expect(resent.body.verification).toMatchObject({ resends_used: 1, channel: 'sms', attempts_remaining: 5 })
    const fresh = await qi.latestToken(t.provider_reference)
    expect((await p.call('POST', '/v1/transfers/ted-exp/confirm', { code: fresh })).body.status).toBe('completed')
  })
})

describe('resend (resend_token)', () => {
  it('keeps the channel by default, switches it on request, and the old token stops working', async () => {
    // A fixed, different token per send: the first token is always a wrong one after the resends.
    await qi.settings({ fixed_token: '111111' })
    try {
      const p = await newPartner({ resend_cooldown_seconds: 0 })
      const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-rs', p.accountKey))
      const first = await qi.latestToken(t.provider_reference)
      expect(first).toBe('111111')
      await qi.settings({ fixed_token: '222222' })
      expect((await p.call('POST', '/v1/transfers/ted-rs/resend')).body.verification.channel).toBe('sms')
      await qi.settings({ fixed_token: '333333' })
      const switched = await p.call('POST', '/v1/transfers/ted-rs/resend', { channel: 'email' })
      expect(switched.body.verification).toMatchObject({ channel: 'email', resends_used: 2, resends_remaining: 1 })
      const tokens = await qi.tokens(t.provider_reference)
      expect(tokens.map((x) => [x.contact_type, x.token])).toEqual([
        ['email', '333333'],
        ['sms', '222222'],
        ['sms', '111111'],
      ])
      const patches = await qi.requests({
        method: 'PATCH',
        path: `/account/${p.accountKey}/ted/${t.provider_reference}/resend_token`,
      })
      expect(patches.map((r) => r.body)).toEqual([{ contact_type: 'sms' }, { contact_type: 'email' }])
      expect((await p.call('POST', '/v1/transfers/ted-rs/confirm', { code: first })).body).toMatchObject({
        code: 'verification_code_invalid',
        attempts_remaining: 4,
      })
      expect((await p.call('POST', '/v1/transfers/ted-rs/confirm', { code: '333333' })).body.status).toBe('completed')
    } finally {
      await qi.settings({ fixed_token: null })
    }
  })

  it('20 simultaneous resends let exactly the limit through', async () => {
    const p = await newPartner({ resend_cooldown_seconds: 0, resend_limit: 3 })
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-burst', p.accountKey))
    const results = await Promise.all(
      Array.from({ length: 20 }, () => p.call('POST', '/v1/transfers/ted-burst/resend')),
    )
    expect(results.filter((r) => r.status === 200)).toHaveLength(3)
    expect(results.filter((r) => r.status === 429).every((r) => r.body.code === 'resend_limit_reached')).toBe(true)
    expect(
      await qi.requests({ method: 'PATCH', path: `/account/${p.accountKey}/ted/${t.provider_reference}/resend_token` }),
    ).toHaveLength(3)
  })

  it('the cooldown applies to QI as to sFOX', async () => {
    const p = await newPartner()
    await p.call('POST', '/v1/transfers', tedBody('ted-cool', p.accountKey))
    const res = await p.call('POST', '/v1/transfers/ted-cool/resend')
    expect(res.status).toBe(429)
    expect(res.body.code).toBe('resend_cooldown')
  })
})

describe('cancel (gateway-side)', () => {
  it('cancels on the gateway; later confirms are refused and never forwarded', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-can', p.accountKey))
    const res = await p.call('POST', '/v1/transfers/ted-can/cancel')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ status: 'canceled', provider_status: 'pending_2fa_approval' })
    const confirm = await p.call('POST', '/v1/transfers/ted-can/confirm', {
      code: await qi.latestToken(t.provider_reference),
    })
    expect(confirm.status).toBe(409)
    expect((await p.call('POST', '/v1/transfers/ted-can/resend')).status).toBe(409)
    expect(await qi.requests({ method: 'PUT', credential: p.apiClientKey })).toHaveLength(0)
    expect((await p.call('POST', '/v1/transfers/ted-can/cancel')).status).toBe(200)
  })

  describe('while a confirm is at QI', () => {
    // A gateway that waits long for QI, so a confirm held at QI for seconds (far longer than the cancel or second
    // confirm below needs, however busy the machine) is an ordinary confirm, not a timeout.
    let patient: Gateway
    let patientDb: ReturnType<typeof openDb>
    beforeAll(async () => {
      patient = await startGateway({ vars: { PROVIDER_TIMEOUT_MS: '30000', QI_SIGNATURE_TOLERANCE_SECONDS: '300' } })
      patientDb = openDb(patient.dbUrl)
    })
    afterAll(async () => {
      patientDb?.close()
      await patient?.close()
    })
    /** Starts a confirm that QI holds for 3 s, and returns once the confirm holds its lease (it is on its way to QI). */
    const confirmHeldAtQi = async (p: Awaited<ReturnType<typeof createQiPartner>>, id: string, code: string) => {
      await qi.fault({
        method: 'PUT',
        path: '/account/:ak/ted/:tk/validate_token',
        delay_ms: 3000,
        apiClientKey: p.apiClientKey,
      })
      const confirming = p.call('POST', `/v1/transfers/${id}/confirm`, { code })
      await expect.poll(() => leaseOf(patientDb, p, id), { timeout: 10_000, interval: 10 }).not.toBeNull()
      return { confirming }
    }

    it('a cancel while a confirm is at QI is 409 transfer_in_flight; the confirm decides', async () => {
      const p = await createQiPartner(patient, qi)
      const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-race', p.accountKey))
      const { confirming } = await confirmHeldAtQi(p, 'ted-race', await qi.latestToken(t.provider_reference))
      const cancel = await p.call('POST', '/v1/transfers/ted-race/cancel')
      expect(cancel.status).toBe(409)
      expect(cancel.body.code).toBe('transfer_in_flight')
      expect(cancel.headers.get('retry-after')).toBe('1')
      expect((await confirming).body).toMatchObject({ status: 'completed', provider_status: 'sent' })
      // Once the confirm has landed the cancel is refused for what it is: the TED was sent.
      const late = await p.call('POST', '/v1/transfers/ted-race/cancel')
      expect(late.body).toMatchObject({ code: 'transfer_not_pending_verification', transfer_status: 'completed' })
      expect(await eventTypesOf(p, 'ted-race')).toEqual(['transfer.created', 'transfer.completed'])
    })

    it('one confirm at a time: a second while the first is at QI is 409 transfer_in_flight and never forwarded', async () => {
      const p = await createQiPartner(patient, qi)
      const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-two', p.accountKey))
      const token = await qi.latestToken(t.provider_reference)
      const { confirming: first } = await confirmHeldAtQi(p, 'ted-two', wrongToken(token))
      const second = await p.call('POST', '/v1/transfers/ted-two/confirm', { code: token })
      expect(second.status).toBe(409)
      expect(second.body.code).toBe('transfer_in_flight')
      expect((await first).body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: 4 })
      // The first released only its own lease; now the right token goes through.
      expect((await p.call('POST', '/v1/transfers/ted-two/confirm', { code: token })).body.status).toBe('completed')
      expect(
        await qi.requests({
          method: 'PUT',
          path: `/account/${p.accountKey}/ted/${t.provider_reference}/validate_token`,
        }),
      ).toHaveLength(2)
    })
  })

  it('after a confirm whose outcome is unknown (timeout), a cancel waits: QI may have approved it', async () => {
    // This partner's webhooks go nowhere, so the gateway cannot learn of the approval that way either.
    const p = await createQiPartner(gateway, qi, { webhookUrl: 'http://127.0.0.1:9/hooks' })
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-unknown', p.accountKey))
    // QI is slow: it judges the token only long after the gateway's 800 ms timeout (4 s: time enough for the
    // cancel below on a busy machine), and approves it.
    await qi.fault({
      method: 'PUT',
      path: '/account/:ak/ted/:tk/validate_token',
      delay_ms: 4000,
      apiClientKey: p.apiClientKey,
    })
    const token = await qi.latestToken(t.provider_reference)
    const confirmedAt = Date.now()
    const confirm = await p.call('POST', '/v1/transfers/ted-unknown/confirm', { code: token })
    expect(confirm.status).toBe(504)
    // The outcome is unknown: the confirm keeps its lease (timeout + 5 s) instead of giving it back.
    expect(await leaseOf(db, p, 'ted-unknown')).toBeGreaterThanOrEqual(confirmedAt + 800 + 5000)
    // QI still shows the TED awaiting approval, but the confirm's lease holds: no cancel yet.
    expect((await qi.ted(t.provider_reference)).ted_status).toBe('pending_2fa_approval')
    const cancel = await p.call('POST', '/v1/transfers/ted-unknown/cancel')
    expect(cancel.status).toBe(409)
    expect(cancel.body.code).toBe('transfer_in_flight')
    await expect.poll(async () => (await qi.ted(t.provider_reference)).ted_status, { timeout: 15_000 }).toBe('sent')
    expect((await p.call('GET', '/v1/transfers/ted-unknown')).body.status).toBe('pending_verification')
    // Now QI has approved it, a cancel asks QI and learns the TED was sent (the lease hides nothing QI says).
    const late = await p.call('POST', '/v1/transfers/ted-unknown/cancel')
    expect(late.body).toMatchObject({ code: 'transfer_not_pending_verification', transfer_status: 'completed' })
  })

  it('a wrong token releases its lease at once: a cancel right after it succeeds', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-wrong-cancel', p.accountKey))
    const wrong = await p.call('POST', '/v1/transfers/ted-wrong-cancel/confirm', {
      code: wrongToken(await qi.latestToken(t.provider_reference)),
    })
    expect(wrong.body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: 4 })
    expect((await p.call('POST', '/v1/transfers/ted-wrong-cancel/cancel')).body.status).toBe('canceled')
  })

  it("a cancel asks QI first: a TED approved behind the gateway's back is not canceled", async () => {
    // This partner's webhooks go nowhere, so only the cancel's own look at QI can learn of the approval.
    const p = await createQiPartner(gateway, qi, { webhookUrl: 'http://127.0.0.1:9/hooks' })
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-behind', p.accountKey))
    await qi.setStatus(t.provider_reference, 'sent')
    const cancel = await p.call('POST', '/v1/transfers/ted-behind/cancel')
    expect(cancel.status).toBe(409)
    expect(cancel.body).toMatchObject({ code: 'transfer_not_pending_verification', transfer_status: 'completed' })
    expect((await p.call('GET', '/v1/transfers/ted-behind')).body).toMatchObject({
      status: 'completed',
      provider_status: 'sent',
    })
  })

  it('if QI cannot be asked, the cancel fails (502) and the transfer stays pending', async () => {
    const p = await newPartner()
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-can-down', p.accountKey))
    await qi.fault({
      method: 'GET',
      path: `/account/:ak/ted/${t.provider_reference}/outgoing`,
      status: 503,
      apiClientKey: p.apiClientKey,
    })
    const cancel = await p.call('POST', '/v1/transfers/ted-can-down/cancel')
    expect(cancel.status).toBe(502)
    expect(cancel.headers.get('content-type')).toBe('application/problem+json')
    expect((await p.call('GET', '/v1/transfers/ted-can-down')).body.status).toBe('pending_verification')
    expect((await p.call('POST', '/v1/transfers/ted-can-down/cancel')).body.status).toBe('canceled')
  })
})

describe('QI webhooks', () => {
  const sendAndRead = async (p: Awaited<ReturnType<typeof newPartner>>, id: string) => {
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody(id, p.accountKey))
    await p.call('POST', `/v1/transfers/${id}/confirm`, { code: await qi.latestToken(t.provider_reference) })
    return t.provider_reference as string
  }

  it('a returned TED (after sent) becomes returned, with the refusal reason', async () => {
    const p = await newPartner()
    const tedKey = await sendAndRead(p, 'ted-ret')
    const { data } = await qi.setStatus(tedKey, 'returned')
    expect(data.webhook.status).toBe(200)
    const t = await p.call('GET', '/v1/transfers/ted-ret')
    expect(t.body).toMatchObject({
      status: 'returned',
      provider_status: 'returned',
      failure: { code: 'conta_destinatario_encerrada' },
    })
  })

  it('a TED returned while the gateway still thought it processing (its sent webhook missed) becomes returned', async () => {
    await qi.settings({ approval_outcome: 'pending', settle_delay_ms: 60_000 })
    try {
      const p = await newPartner()
      const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-proc-ret', p.accountKey))
      const res = await p.call('POST', '/v1/transfers/ted-proc-ret/confirm', {
        code: await qi.latestToken(t.provider_reference),
      })
      expect(res.body.status).toBe('processing')
      const { data } = await qi.setStatus(t.provider_reference, 'returned')
      expect(data.webhook.status).toBe(200)
      expect((await p.call('GET', '/v1/transfers/ted-proc-ret')).body).toMatchObject({
        status: 'returned',
        provider_status: 'returned',
      })
      expect(await eventTypesOf(p, 'ted-proc-ret')).toEqual([
        'transfer.created',
        'transfer.processing',
        'transfer.returned',
      ])
    } finally {
      await qi.settings({ approval_outcome: 'sent' })
    }
  })

  it('duplicates and late, out-of-order webhooks change nothing', async () => {
    const p = await newPartner()
    const tedKey = await sendAndRead(p, 'ted-dup')
    for (const ted_status of ['sent', 'sent', 'pending']) {
      const res = await qi.sendWebhook({ ted_key: tedKey, ted_status })
      expect(res.status).toBe(200)
      expect(res.body).toMatchObject({ received: true, applied: false, transfer_status: 'completed' })
    }
    expect((await p.call('GET', '/v1/transfers/ted-dup')).body.status).toBe('completed')
  })

  it('forged webhooks are refused with 401 in every way they can be wrong', async () => {
    const p = await newPartner()
    const tedKey = await sendAndRead(p, 'ted-forged')
    for (const tamper of [
      'signature',
      'payload_md5',
      'stale_timestamp',
      'wrong_uri',
      'wrong_method',
      'api_client_key',
    ]) {
      const res = await qi.sendWebhook({ ted_key: tedKey, ted_status: 'returned', tamper })
      expect(res.status, tamper).toBe(401)
      expect(res.body.code).toBe('webhook_signature_invalid')
    }
    // None was trusted (a trusted one is applied before its answer); the gateway asked QI instead, once, and QI
    // still says sent.
    expect((await p.call('GET', '/v1/transfers/ted-forged')).body.status).toBe('completed')
    const outgoing = { method: 'GET', path: `/account/${p.accountKey}/ted/${tedKey}/outgoing` }
    await expect.poll(async () => (await qi.requests(outgoing)).map((r) => r.status)).toEqual([200])
    expect((await p.call('GET', '/v1/transfers/ted-forged')).body.status).toBe('completed')
  })

  it('a refused webhook makes the gateway ask QI instead', async () => {
    // This partner's real webhooks go nowhere, so only the forged one reaches the gateway.
    const p = await createQiPartner(gateway, qi, { webhookUrl: 'http://127.0.0.1:9/hooks' })
    const tedKey = await sendAndRead(p, 'ted-refetch')
    await qi.setStatus(tedKey, 'returned')
    expect((await p.call('GET', '/v1/transfers/ted-refetch')).body.status).toBe('completed')
    // A burst of forgeries costs QI one fetch: the re-fetch is throttled per transfer.
    for (let i = 0; i < 5; i++) {
      const res = await qi.sendWebhook({
        ted_key: tedKey,
        tamper: 'signature',
        url: `${gateway.url}/providers/qi/webhooks`,
      })
      expect(res.status).toBe(401)
    }
    await expect.poll(async () => (await p.call('GET', '/v1/transfers/ted-refetch')).body.status).toBe('returned')
    // Whether to re-fetch is decided (and recorded) before each 401; only the first forgery was granted one.
    expect(await qi.requests({ method: 'GET', path: `/account/${p.accountKey}/ted/${tedKey}/outgoing` })).toHaveLength(
      1,
    )
  })

  it('garbage is a 400 and unknown TEDs the same 401 as forgeries, never a 500', async () => {
    const raw = (body: string, headers: Record<string, string> = {}) =>
      gateway.request('POST', '/providers/qi/webhooks', {
        raw: body,
        headers: { 'content-type': 'application/json', ...headers },
      })
    expect((await raw('not json')).status).toBe(400)
    expect((await raw('{"webhook_type": "baas.ted.outgoing_ted"}')).status).toBe(400)
    const unknown = await raw(
      JSON.stringify({
        webhook_type: 'baas.ted.outgoing_ted',
        data: { ted_key: crypto.randomUUID(), ted_status: 'sent' },
      }),
    )
    // Unknown and forged look the same from outside: no probing for which TEDs exist.
    expect(unknown.status).toBe(401)
    expect(unknown.body.code).toBe('webhook_signature_invalid')
    const p = await newPartner()
    const tedKey = await sendAndRead(p, 'ted-unsigned')
    const unsigned = await raw(
      JSON.stringify({ webhook_type: 'baas.ted.outgoing_ted', data: { ted_key: tedKey, ted_status: 'returned' } }),
      {
        'api-client-key': p.apiClientKey,
        authorization: 'not.a.jwt',
      },
    )
    expect(unsigned.status).toBe(401)
    expect((await p.call('GET', '/v1/transfers/ted-unsigned')).body.status).toBe('completed')
    // A TED of a partner whose QI connection is gone answers the same, not a different error.
    expect((await gateway.admin('DELETE', `/partners/${p.id}/connections/qi?mode=test`)).status).toBe(204)
    const orphan = await qi.sendWebhook({
      ted_key: tedKey,
      ted_status: 'returned',
      url: `${gateway.url}/providers/qi/webhooks`,
    })
    expect(orphan.status).toBe(401)
    expect(orphan.body.code).toBe('webhook_signature_invalid')
  })
})

describe('signing, both ways', () => {
  it('QI refuses calls signed with the wrong private key: provider_authentication_failed', async () => {
    const p = await newPartner()
    const other = generateP521KeyPair()
    const conn = await gateway.admin('PUT', `/partners/${p.id}/connections/qi?mode=test`, {
      api_client_key: p.apiClientKey,
      private_key_pem: other.privateKeyPem,
      qi_public_key_pem: qi.qiPublicKeyPem,
      base_url: qi.url,
      account_keys: [p.accountKey],
    })
    expect(conn.status).toBe(200)
    // The partner's key lookup is cached (API_KEY_CACHE_SECONDS); a new key sees the new connection.
    const key = await gateway.admin('POST', `/partners/${p.id}/api-keys`, { mode: 'test' })
    const res = await gateway.request('POST', '/v1/transfers', {
      key: key.body.key,
      body: tedBody('ted-badkey', p.accountKey),
    })
    expect(res.status).toBe(502)
    expect(res.body).toMatchObject({
      code: 'provider_authentication_failed',
      provider_error: { code: 'GDF000014', status: 401 },
    })
  })

  it("answers signed with a key other than QI's are not trusted", async () => {
    const p = await createQiPartner(gateway, qi, { qiPublicKeyPem: generateP521KeyPair().publicKeyPem })
    const res = await p.call('POST', '/v1/transfers', tedBody('ted-mitm', p.accountKey))
    expect(res.status).toBe(502)
    expect(res.body.provider_error.message).toContain('not authentic')
  })

  it('a duplicate QI cannot show yet is kept for a retry, not forgotten', async () => {
    const p = await newPartner()
    await qi.fault({ method: 'POST', path: tedPath(p), status: 409, apiClientKey: p.apiClientKey })
    await qi.fault({
      method: 'GET',
      path: `/account/${p.accountKey}/teds`,
      status: 200,
      body: { data: [] },
      apiClientKey: p.apiClientKey,
    })
    const first = await p.call('POST', '/v1/transfers', tedBody('ted-unlisted', p.accountKey))
    expect(first.status).toBe(502)
    expect((await p.call('GET', '/v1/transfers/ted-unlisted')).body.status).toBe('submitting')
    const retried = await p.call('POST', '/v1/transfers', tedBody('ted-unlisted', p.accountKey))
    expect(retried.status).toBe(201)
    expect(retried.body.status).toBe('pending_verification')
  })

  it('forged answers are not trusted, in the v2 header and the v1 QIT header alike; a retry then adopts the TED', async () => {
    const cases = [
      ['header', 'signature'],
      ['header', 'wrong_uri'],
      ['header', 'wrong_method'],
      ['header', 'stale'],
      ['encoded_body', 'wrong_uri'],
      ['encoded_body', 'wrong_method'],
      ['encoded_body', 'stale'],
      ['encoded_body', 'api_key'],
      ['encoded_body', 'api_key_header'],
    ] as const
    const p = await newPartner()
    for (const [response_signing, response_tamper] of cases) {
      const id = `ted-forged-${response_signing}-${response_tamper}`
      await qi.settings({ response_signing, response_tamper })
      try {
        const res = await p.call('POST', '/v1/transfers', tedBody(id, p.accountKey))
        expect(res.status, id).toBe(502)
        expect(res.body.provider_error.message, id).toContain('not authentic')
      } finally {
        await qi.settings({ response_signing: 'header', response_tamper: null })
      }
      // QI did create the TED: the retry finds it by request_control_key instead of sending another.
      const retried = await p.call('POST', '/v1/transfers', tedBody(id, p.accountKey))
      expect(retried.status, id).toBe(201)
      expect(retried.body.status).toBe('pending_verification')
    }
    expect(await qi.requests({ method: 'POST', path: tedPath(p) })).toHaveLength(cases.length)
  })

  it('accepts the legacy encoded_body answers and unsigned answers', async () => {
    for (const response_signing of ['encoded_body', 'none']) {
      await qi.settings({ response_signing })
      try {
        const p = await newPartner()
        const { status, body: t } = await p.call(
          'POST',
          '/v1/transfers',
          tedBody(`ted-${response_signing}`, p.accountKey),
        )
        expect(status, response_signing).toBe(201)
        expect(t.provider_status).toBe('pending_2fa_approval')
        const done = await p.call('POST', `/v1/transfers/ted-${response_signing}/confirm`, {
          code: await qi.latestToken(t.provider_reference),
        })
        expect(done.body.status).toBe('completed')
      } finally {
        await qi.settings({ response_signing: 'header' })
      }
    }
  })
})

describe('QI connection (admin)', () => {
  it('accepts SEC1 keys, refuses unusable keys, stores everything encrypted', async () => {
    const { body: partner } = await gateway.admin('POST', '/partners', { name: 'QI keys' })
    const integration = await qi.newIntegration(`${gateway.url}/providers/qi/webhooks`)
    const sec1 = createPrivateKey(partnerKeyPair().privateKeyPem).export({ type: 'sec1', format: 'pem' }).toString()
    const input = {
      api_client_key: integration.api_client_key,
      private_key_pem: sec1,
      qi_public_key_pem: integration.qi_public_key_pem,
      base_url: qi.url,
      account_keys: integration.account_keys,
    }
    const ok = await gateway.admin('PUT', `/partners/${partner.id}/connections/qi?mode=test`, input)
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ provider: 'qi', settings: { account_keys: integration.account_keys } })
    const everything =
      JSON.stringify(await db.snapshot()) + JSON.stringify(ok.body) + gateway.logs.map((l) => l.message).join('')
    expect(everything).not.toContain(integration.api_client_key)
    expect(everything).not.toContain(sec1.split('\n')[1])

    const bad = await gateway.admin('PUT', `/partners/${partner.id}/connections/qi?mode=test`, {
      ...input,
      private_key_pem: `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(200)}\n-----END PRIVATE KEY-----`,
      qi_public_key_pem: partnerKeyPair().privateKeyPem,
    })
    expect(bad.status).toBe(422)
    expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual(['private_key_pem', 'qi_public_key_pem'])
  })
})
