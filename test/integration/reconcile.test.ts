import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { qiError } from '../../sandbox/qi/errors'
import { openDb } from '../helpers/db'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { createQiPartner, type QiSandbox, startQi, tedBody } from '../helpers/qi'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

let gateway: Gateway
let sfox: SfoxSandbox
let qi: QiSandbox

// sFOX's history cap (25,000 rows) is 4 here on both sides, so a full answer is easy to make. The pending TTL is
// an hour: nothing expires by itself during a test; a test that needs a transfer past it ages that one (age()).
const TTL_MS = 3600_000
const VARS = {
  PENDING_TTL_SECONDS: String(TTL_MS / 1000),
  RECONCILE_QUIET_SECONDS: '0',
  PROVIDER_TIMEOUT_MS: '800',
  SFOX_REQUESTS_PER_10S: '20',
  SFOX_HISTORY_MAX_ROWS: '4',
}

beforeAll(async () => {
  ;[sfox, qi] = await Promise.all([startSfox(), startQi()])
  await sfox.settings({ rate_limit: { enabled: false }, history_max_rows: 4 })
})
afterAll(async () => {
  await sfox?.close()
  await qi?.close()
})
// Each test on its own gateway and database: a cron run works through this test's transfers only, not what
// earlier tests left open (which would also take the paced sFOX slots).
let db: ReturnType<typeof openDb>
beforeEach(async () => {
  gateway = await startGateway({ vars: VARS })
  db = openDb(gateway.dbUrl)
})
afterEach(async () => {
  db?.close()
  await gateway?.close()
})

/** Moves one transfer's clock forward past the pending TTL: as if it had been created TTL + 1 s ago. */
const age = async (p: { id: string }, transferId: string) => {
  const rows = await db.all(
    'UPDATE transfers SET created_at = created_at - ?, expires_at = expires_at - ? WHERE partner_id = ? AND transfer_id = ? RETURNING id',
    [TTL_MS + 1000, TTL_MS + 1000, p.id, transferId],
  )
  expect(rows).toHaveLength(1)
}
/** sFOX logs a request once it has answered it: waits until `count` creates of the account have been answered. */
const createsAnswered = (p: { sfoxAccount: string }, count: number) =>
  expect
    .poll(
      async () =>
        (await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: p.sfoxAccount })).length,
      { timeout: 15_000, interval: 50 },
    )
    .toBe(count)
const eventTypes = async (p: { call: (m: string, path: string) => Promise<any> }, id: string) =>
  (await p.call('GET', `/v1/events?transfer_id=${id}`)).body.data.map((e: any) => e.type).reverse()

describe('reconciliation with sFOX (polled: it pushes nothing)', () => {
  it('a transfer completed at sFOX behind our back is completed, and announced', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('rec-1'))
    await sfox.setStatus(t.provider_reference, 'COMPLETE', p.sfoxAccount)
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/rec-1')).body).toMatchObject({
      status: 'completed',
      provider_status: 'COMPLETE',
    })
    expect(await eventTypes(p, 'rec-1')).toEqual(['transfer.created', 'transfer.completed'])
    // Nothing new: the next run changes nothing and announces nothing.
    await gateway.cron()
    expect(await eventTypes(p, 'rec-1')).toEqual(['transfer.created', 'transfer.completed'])
  })

  it('a create whose answer was lost is adopted from the history', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      delay_ms: 1200,
      after: true,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers', paymentBody('rec-2'))).status).toBe(504)
    await createsAnswered(p, 1)
    await gateway.cron()
    const adopted = (await p.call('GET', '/v1/transfers/rec-2')).body
    expect(adopted).toMatchObject({
      status: 'pending_verification',
      provider_status: 'PENDING',
      verification: { attempts_remaining: 5, resends_used: 0 },
    })
    // Its pending window counts from the create, not from the adoption.
    expect(Date.parse(adopted.verification.expires_at)).toBe(Date.parse(adopted.created_at) + TTL_MS)
    // An adopted transfer is confirmed like any other: a wrong code costs an attempt, the right one completes it.
    const code = await sfox.latestCode(adopted.provider_reference)
    const wrong = await p.call('POST', '/v1/transfers/rec-2/confirm', { code: code === '000000' ? '111111' : '000000' })
    expect(wrong.body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: 4 })
    const confirmed = await p.call('POST', '/v1/transfers/rec-2/confirm', { code })
    expect(confirmed.body.status).toBe('completed')
  })

  it('a create sFOX never got fails once the pending TTL has passed', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer', status: 503, apiKey: p.sfoxKey })
    expect((await p.call('POST', '/v1/transfers', paymentBody('rec-3'))).status).toBe(502)
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/rec-3')).body.status).toBe('submitting')
    await age(p, 'rec-3')
    await gateway.cron()
    const t = await p.call('GET', '/v1/transfers/rec-3')
    expect(t.body).toMatchObject({ status: 'failed', failure: { code: 'submission_unconfirmed' } })
    expect(await eventTypes(p, 'rec-3')).toEqual(['transfer.created', 'transfer.failed'])
  })

  it("a history answer at sFOX's row cap proves nothing: the missing transfer is looked up alone", async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      delay_ms: 1200,
      after: true,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers', paymentBody('cap-lost'))).status).toBe(504)
    // Four later PAYOUTs fill the answer of the whole window (sFOX lists newest first).
    for (let i = 0; i < 4; i++) await p.call('POST', '/v1/transfers', paymentBody(`cap-out-${i}`, { type: 'PAYOUT' }))
    await createsAnswered(p, 5)
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/cap-lost')).body).toMatchObject({
      status: 'pending_verification',
      provider_status: 'PENDING',
    })
    // The whole window (full), then the missing one alone.
    expect(await sfox.requests({ path: '/v1/enterprise/transfer/history', account: p.sfoxAccount })).toHaveLength(2)
  })

  it('when even its own lookup is full, an unconfirmed create is not failed, however old', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      delay_ms: 1200,
      after: true,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers', paymentBody('full-lost'))).status).toBe(504)
    // Four later PAYMENTs fill both the whole window and the lost one's own (same type).
    for (let i = 0; i < 4; i++) await p.call('POST', '/v1/transfers', paymentBody(`full-${i}`))
    await createsAnswered(p, 5)
    await age(p, 'full-lost') // past the pending TTL: a complete answer without it would fail it
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/full-lost')).body.status).toBe('submitting')
    expect(await sfox.requests({ path: '/v1/enterprise/transfer/history', account: p.sfoxAccount })).toHaveLength(2)
    expect(await eventTypes(p, 'full-lost')).toEqual([])
  })

  it('a transfer sFOX cannot tell about does not hold up the others', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    for (let i = 0; i < 4; i++) await p.call('POST', '/v1/transfers', paymentBody(`hold-${i}`))
    await sfox.fault({
      method: 'POST',
      path: '/v1/enterprise/transfer',
      delay_ms: 1200,
      after: true,
      apiKey: p.sfoxKey,
    })
    expect((await p.call('POST', '/v1/transfers', paymentBody('hold-lost'))).status).toBe(504)
    await createsAnswered(p, 5)
    // The full answer (newest first) has the lost one but not hold-0, whose own lookup is full too.
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/hold-lost')).body.status).toBe('pending_verification')
    expect((await p.call('GET', '/v1/transfers/hold-0')).body.status).toBe('pending_verification')
  })

  it('polls history at most at the configured pace (one call per partner per run)', async () => {
    const partners = await Promise.all([1, 2, 3].map(() => createSfoxPartner(gateway, sfox)))
    for (const [i, p] of partners.entries())
      await p.call('POST', '/v1/transfers', paymentBody(`pace-${i}`, { type: 'PAYOUT' }))
    for (const [i, p] of partners.entries()) await p.call('POST', '/v1/transfers', paymentBody(`pace-p-${i}`))
    const started = Date.now()
    await gateway.cron()
    const calls = (
      await Promise.all(
        partners.map((p) => sfox.requests({ path: '/v1/enterprise/transfer/history', account: p.sfoxAccount })),
      )
    ).flat()
    expect(calls).toHaveLength(3)
    // 20 per 10 s = one every 500 ms, the first at once. sFOX logs a call when it has answered it, never before
    // it arrived: the k-th answer (k from 0) cannot come before the run started plus k slots, however slow sFOX is.
    const answered = calls.map((c: any) => Date.parse(c.at)).sort((a, b) => a - b)
    answered.forEach((at, k) => expect(at - started, `call ${k}`).toBeGreaterThanOrEqual(k * 500))
  })
})

describe('expiry', () => {
  it('past the pending TTL, confirms are refused; the cron cancels at sFOX and expires it', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const { body: t } = await p.call('POST', '/v1/transfers', paymentBody('exp-1'))
    const code = await sfox.latestCode(t.provider_reference)
    await age(p, 'exp-1')
    const late = await p.call('POST', '/v1/transfers/exp-1/confirm', { code })
    expect(late.status).toBe(409)
    expect(late.body).toMatchObject({ code: 'transfer_not_pending_verification', transfer_status: 'expired' })
    expect((await p.call('POST', '/v1/transfers/exp-1/resend')).status).toBe(409)
    expect(await sfox.requests({ path: '/v1/enterprise/transfer/confirm', account: p.sfoxAccount })).toHaveLength(0)
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/exp-1')).body).toMatchObject({
      status: 'expired',
      provider_status: 'CANCELED',
    })
    const atSfox = (await sfox.transfers(p.sfoxAccount)).find((x) => x.transfer_id === t.provider_reference)
    expect(atSfox.transfer_status_code).toBe('CANCELED')
    expect(await eventTypes(p, 'exp-1')).toEqual(['transfer.created', 'transfer.expired'])
  })

  it('if sFOX is down, expiry waits for the next run', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await p.call('POST', '/v1/transfers', paymentBody('exp-2'))
    await age(p, 'exp-2')
    await sfox.fault({
      method: 'DELETE',
      path: '/v1/enterprise/transfer/:id',
      status: 503,
      count: 5,
      apiKey: p.sfoxKey,
    })
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/exp-2')).body.status).toBe('pending_verification')
    await sfox.clearFaults()
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/exp-2')).body.status).toBe('expired')
  })

  it('a QI transfer expires on the gateway side', async () => {
    const p = await createQiPartner(gateway, qi)
    await p.call('POST', '/v1/transfers', tedBody('exp-qi', p.accountKey))
    await age(p, 'exp-qi')
    await gateway.cron()
    expect((await p.call('GET', '/v1/transfers/exp-qi')).body).toMatchObject({
      status: 'expired',
      provider_status: 'pending_2fa_approval',
    })
  })

  it('a QI transfer QI has no record of expires; a partner QI keeps failing for waits, without holding up the rest', async () => {
    const gone = await createQiPartner(gateway, qi)
    const down = await createQiPartner(gateway, qi)
    await gone.call('POST', '/v1/transfers', tedBody('exp-gone', gone.accountKey))
    await down.call('POST', '/v1/transfers', tedBody('exp-down-1', down.accountKey))
    await down.call('POST', '/v1/transfers', tedBody('exp-down-2', down.accountKey))
    const outgoing = '/account/:ak/ted/:tk/outgoing'
    await qi.fault({
      method: 'GET',
      path: outgoing,
      status: 404,
      body: qiError('TED000020').body,
      apiClientKey: gone.apiClientKey,
    })
    await qi.fault({ method: 'GET', path: outgoing, status: 503, count: 5, apiClientKey: down.apiClientKey })
    await age(gone, 'exp-gone')
    await age(down, 'exp-down-1')
    await age(down, 'exp-down-2')
    await gateway.cron()
    expect((await gone.call('GET', '/v1/transfers/exp-gone')).body.status).toBe('expired')
    expect((await down.call('GET', '/v1/transfers/exp-down-1')).body.status).toBe('pending_verification')
    expect((await down.call('GET', '/v1/transfers/exp-down-2')).body.status).toBe('pending_verification')
    // After the first failure the partner's other transfer was not even tried this run.
    const asked = await qi.requests({ method: 'GET', credential: down.apiClientKey })
    expect(asked.filter((r) => r.path.endsWith('/outgoing'))).toHaveLength(1)
    await qi.clearFaults()
    await gateway.cron()
    expect((await down.call('GET', '/v1/transfers/exp-down-1')).body.status).toBe('expired')
    expect((await down.call('GET', '/v1/transfers/exp-down-2')).body.status).toBe('expired')
  })
})

describe('reconciliation with QI (TEDs stuck in processing)', () => {
  it('re-fetches a processing TED whose webhook never came', async () => {
    // Webhooks of this partner go nowhere.
    const p = await createQiPartner(gateway, qi, { webhookUrl: 'http://127.0.0.1:9/none' })
    await qi.settings({ approval_outcome: 'pending', settle_delay_ms: 100 })
    try {
      const { body: t } = await p.call('POST', '/v1/transfers', tedBody('rec-qi', p.accountKey))
      const res = await p.call('POST', '/v1/transfers/rec-qi/confirm', {
        code: await qi.latestToken(t.provider_reference),
      })
      expect(res.body.status).toBe('processing')
      // QI settles it (100 ms later) and tells no one: the webhook goes nowhere.
      await expect.poll(async () => (await qi.ted(t.provider_reference)).ted_status, { timeout: 10_000 }).toBe('sent')
      await gateway.cron()
      expect((await p.call('GET', '/v1/transfers/rec-qi')).body).toMatchObject({
        status: 'completed',
        provider_status: 'sent',
      })
      expect(await eventTypes(p, 'rec-qi')).toEqual(['transfer.created', 'transfer.processing', 'transfer.completed'])
    } finally {
      await qi.settings({ approval_outcome: 'sent' })
    }
  })
})
