import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, createSfoxPartner, type Gateway, startGateway, TEST_SECRETS } from '../helpers/gateway'
import { createQiPartner, type QiSandbox, startQi, tedBody } from '../helpers/qi'
import { startReceiver } from '../helpers/receiver'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

// Promises of docs/api.md (and callbacks.md) that had no test, or only a weak one.
let gateway: Gateway
let sfox: SfoxSandbox
let qi: QiSandbox
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  ;[gateway, sfox, qi] = await Promise.all([startGateway(), startSfox(), startQi()])
  await sfox.settings({ rate_limit: { enabled: false } })
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
  await sfox?.close()
  await qi?.close()
})

const until = <T>(fn: () => Promise<T> | T, timeout = 10_000) => expect.poll(fn, { timeout, interval: 50 })

/** Runs `task` for 0..n-1, `size` at a time. */
const inChunks = async (n: number, size: number, task: (i: number) => Promise<unknown>) => {
  for (let start = 0; start < n; start += size)
    await Promise.all(Array.from({ length: Math.min(size, n - start) }, (_, k) => task(start + k)))
}

describe('docs/api.md "Lists and cursors"', () => {
  it('"up to 100 items (limit, 1–100)": limit=101 is refused, limit=100 answers 100 and has_more, for transfers, events and endpoints (api.md, Lists and cursors)', async () => {
    // Each create also makes one event (transfer.created).
    const partner = await createSfoxPartner(gateway, sfox)
    await inChunks(101, 10, async (i) => {
      const created = await partner.call('POST', '/v1/transfers', paymentBody(`list-${i}`))
      expect(created.status, created.text).toBe(201)
      const endpoint = await partner.call('POST', '/v1/webhook-endpoints', {
        url: `https://hooks.example.com/${i}`,
        event_types: ['transfer.completed'],
      })
      expect(endpoint.status).toBe(201)
    })
    for (const path of ['/v1/transfers', '/v1/events', '/v1/webhook-endpoints']) {
      const refused = await partner.call('GET', `${path}?limit=101`)
      expect(refused.status, path).toBe(422)
      expect(refused.body.code, path).toBe('invalid_request')
      expect(
        refused.body.errors.map((e: any) => e.field),
        path,
      ).toEqual(['limit'])
      expect((await partner.call('GET', `${path}?limit=0`)).status, path).toBe(422)

      const page = await partner.call('GET', `${path}?limit=100`)
      expect(page.status, path).toBe(200)
      expect(page.body.data, path).toHaveLength(100)
      expect(page.body.has_more, path).toBe(true)
      const rest = await partner.call('GET', `${path}?limit=100&starting_after=${page.body.data[99].id}`)
      expect(rest.body.data, path).toHaveLength(1)
      expect(rest.body.has_more, path).toBe(false)
      // The default page is 10.
      expect((await partner.call('GET', path)).body.data, path).toHaveLength(10)
    }
  })
})

describe('docs/api.md "Rate limits"', () => {
  it('"RATE_LIMIT requests per RATE_LIMIT_WINDOW_SECONDS (100 / 10 s)": with the deployed configuration the 101st request of a window is 429 (api.md, Rate limits)', async () => {
    // The deployed configuration (wrangler.toml's [vars]) does not set the limit: the code's default holds.
    const deployed = JSON.parse(inject('workerOptions')).bindings as Record<string, unknown>
    expect(deployed).not.toHaveProperty('RATE_LIMIT')
    expect(deployed).not.toHaveProperty('RATE_LIMIT_WINDOW_SECONDS')
    // The test gateway raises RATE_LIMIT for other tests; this one gets wrangler.toml's [vars] plus only
    // what a deployment adds (secrets, its database), so RATE_LIMIT is unset, as deployed.
    const asDeployed = await startGateway({
      database: gateway.database,
      overrides: {
        bindings: {
          ...deployed,
          ...TEST_SECRETS,
          ENVIRONMENT: 'test',
          LIBSQL_URL: gateway.dbUrl,
        } as Record<string, string>,
      },
    })
    try {
      const partner = await createPartner(asDeployed)
      // Windows are fixed (restarting at each multiple of 10 s): start while most of one is left.
      await expect.poll(() => Date.now() % 10_000 < 3_000, { timeout: 11_000, interval: 20 }).toBe(true)
      const answers: Awaited<ReturnType<typeof partner.call>>[] = []
      await inChunks(100, 10, async () => answers.push(await partner.call('GET', '/v1/transfers')))
      const last = await partner.call('GET', '/v1/transfers')
      expect(answers.map((a) => a.status)).toEqual(Array(100).fill(200))
      expect(answers[0]!.headers.get('ratelimit-policy')).toBe('100;w=10')
      expect(answers.map((a) => Number(a.headers.get('ratelimit-remaining'))).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 100 }, (_, i) => i),
      )
      expect(last.status).toBe(429)
      expect(last.body.code).toBe('rate_limited')
      expect(Number(last.headers.get('retry-after'))).toBeLessThanOrEqual(10)
    } finally {
      await asDeployed.close()
    }
  })
})

describe('docs/api.md "Limits and guarantees": never stored or logged', () => {
  /** Every row of every table, and everything the Worker logged, as text. */
  const everything = async () => ({
    stored: JSON.stringify(await db.snapshot()),
    logged: gateway.logs.map((l) => l.message).join('\n'),
  })

  it('"OTPs and 2FA tokens … never stored or logged": no code of an sFOX or QI flow is in any database row or log line (api.md, Limits and guarantees; providers.md)', async () => {
    // Fixed codes no id, timestamp or amount can contain by chance (an 11-digit run starting with 9
    // is no part of a millisecond timestamp of this century), and wrong ones the end user typed.
    const sfoxCode = '90817263541'
    const sfoxWrong = '98172635409'
    const qiToken = 'QZ7XKW'
    const qiWrong = 'QJ8YVW'
    await sfox.settings({ fixed_otp: sfoxCode })
    await qi.settings({ fixed_token: qiToken })
    try {
      const s = await createSfoxPartner(gateway, sfox, { resend_cooldown_seconds: 0 })
      const { body: st } = await s.call('POST', '/v1/transfers', paymentBody('codes-sfox'))
      expect(await sfox.latestCode(st.provider_reference)).toBe(sfoxCode)
      expect((await s.call('POST', '/v1/transfers/codes-sfox/confirm', { code: sfoxWrong })).status).toBe(422)
      expect((await s.call('POST', '/v1/transfers/codes-sfox/resend')).status).toBe(200)
      const sDone = await s.call('POST', '/v1/transfers/codes-sfox/confirm', { code: sfoxCode })
      expect(sDone.body.status).toBe('completed')

      const q = await createQiPartner(gateway, qi, { limits: { resend_cooldown_seconds: 0 } })
      const { body: qt } = await q.call('POST', '/v1/transfers', tedBody('codes-qi', q.accountKey))
      expect(await qi.latestToken(qt.provider_reference)).toBe(qiToken)
      expect((await q.call('POST', '/v1/transfers/codes-qi/confirm', { code: qiWrong })).status).toBe(422)
      expect((await q.call('POST', '/v1/transfers/codes-qi/resend')).status).toBe(200)
      const qDone = await q.call('POST', '/v1/transfers/codes-qi/confirm', { code: qiToken })
      expect(qDone.body.status).toBe('completed')
    } finally {
      await sfox.settings({ fixed_otp: null })
      await qi.settings({ fixed_token: null })
    }
    const { stored, logged } = await everything()
    expect(logged.length).toBeGreaterThan(0)
    for (const code of [sfoxCode, sfoxWrong, qiToken, qiWrong]) {
      expect(stored, `${code} stored`).not.toContain(code)
      expect(logged, `${code} logged`).not.toContain(code)
    }
  })

  it('"webhook secrets (encrypted)" and "never logged": no endpoint secret is in the database in plain text or in any log line (api.md, Limits and guarantees; callbacks.md, Secrets and rotation)', async () => {
    const partner = await createSfoxPartner(gateway, sfox)
    const receiver = await startReceiver()
    try {
      const created = await partner.call('POST', '/v1/webhook-endpoints', { url: receiver.url })
      const rotated = await partner.call('POST', `/v1/webhook-endpoints/${created.body.id}/rotate-secret`, {})
      const secrets = [created.body.secret as string, rotated.body.secret as string]
      for (const s of secrets) receiver.trust(s)
      // Deliveries signed with both secrets happen (the secrets were opened and used).
      await partner.call('POST', '/v1/transfers', paymentBody('secrets-1'))
      await until(() => receiver.verified().length).toBe(1)
      expect(receiver.verified()[0]!.verifiedWith.sort()).toEqual([...secrets].sort())

      const { stored, logged } = await everything()
      for (const secret of secrets) {
        const raw = Buffer.from(secret.slice('whsec_'.length), 'base64')
        for (const form of [secret, secret.slice('whsec_'.length), raw.toString('hex'), raw.toString('base64url')]) {
          expect(stored, 'stored').not.toContain(form)
          expect(logged, 'logged').not.toContain(form)
        }
      }
      // What is stored is a ciphertext, one per secret.
      const [row] = await db.all<{ secret: string; previous_secret: string }>(
        'SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ?',
        [created.body.id],
      )
      expect(row!.secret).toBeTruthy()
      expect(row!.previous_secret).toBeTruthy()
      expect(row!.secret).not.toBe(row!.previous_secret)
    } finally {
      await receiver.close()
    }
  })
})

describe('docs/callbacks.md "Events": written in the same transaction as the change', () => {
  it('"every status change … is an event, written in the same database transaction": an event write that fails leaves the status unchanged (callbacks.md, Events)', async () => {
    const partner = await createSfoxPartner(gateway, sfox)
    const { body: t } = await partner.call('POST', '/v1/transfers', paymentBody('atomic-1'))
    expect(t.status).toBe('pending_verification')
    const row = async () =>
      (
        await db.all<{ status: string; sequence: number }>(
          'SELECT status, sequence FROM transfers WHERE partner_id = ? AND transfer_id = ?',
          [partner.id, 'atomic-1'],
        )
      )[0]!
    const eventTypes = async () =>
      (
        await db.all<{ type: string; sequence: number }>(
          'SELECT type, sequence FROM events WHERE partner_id = ? AND transfer_id = ? ORDER BY sequence',
          [partner.id, 'atomic-1'],
        )
      ).map((e) => `${e.sequence}:${e.type}`)
    const before = await row()
    expect(await eventTypes()).toEqual(['1:transfer.created'])

    // The database refuses the cancel's event (and only it): the second statement of the change fails.
    await db.all(`CREATE TRIGGER refuse_atomic_1_event BEFORE INSERT ON events
      WHEN NEW.transfer_id = 'atomic-1' AND NEW.type = 'transfer.canceled'
      BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
    try {
      const failed = await partner.call('POST', '/v1/transfers/atomic-1/cancel')
      expect(failed.status).toBeGreaterThanOrEqual(500)
      expect(await row()).toEqual(before)
      expect(await eventTypes()).toEqual(['1:transfer.created'])
      expect((await partner.call('GET', '/v1/transfers/atomic-1')).body.status).toBe('pending_verification')
    } finally {
      await db.all('DROP TRIGGER refuse_atomic_1_event')
    }
    // Once the database takes it, the same cancel finishes (sFOX already canceled it): status and event together.
    const done = await partner.call('POST', '/v1/transfers/atomic-1/cancel')
    expect(done.status).toBe(200)
    expect(done.body.status).toBe('canceled')
    expect(await row()).toMatchObject({ status: 'canceled', sequence: 2 })
    expect(await eventTypes()).toEqual(['1:transfer.created', '2:transfer.canceled'])
  })
})
