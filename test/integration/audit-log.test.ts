import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, createSfoxPartner, type Gateway, startGateway, TEST_SECRETS } from '../helpers/gateway'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

/**
 * The audit log: who did what to which object, from where, and how it ended — written in the same
 * batch as each change (a change cannot exist without its entry), completed with the answer's
 * outcome, readable by the operator (GET /admin/audit-log) and by each partner for itself
 * (GET /v1/audit-log), never holding a code, key, secret or token.
 */

const NEXT_TOKEN = 'next-admin-token-9876543210'
const IP = '203.0.113.7'

let gateway: Gateway
let sfox: SfoxSandbox
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([
    startGateway({ vars: { ADMIN_TOKEN_NEXT: NEXT_TOKEN, API_KEY_CACHE_SECONDS: '0' } }),
    startSfox(),
  ])
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
  await sfox?.close()
})

const fingerprint = (token: string) =>
  createHmac('sha256', TEST_SECRETS.API_KEY_SECRET).update(`admin-token:${token}`).digest('hex').slice(0, 8)

type Entry = {
  id: string
  action: string
  actor: { type: string; id: string; label: string | null }
  partner_id: string | null
  mode: string | null
  target: { type: string; id: string | null }
  outcome: string
  status: number | null
  problem_code: string | null
  client_address: string | null
  request_id: string
}

const call = (key: string, method: string, path: string, body?: unknown) =>
  gateway.request(method, path, { key, body, headers: { 'cf-connecting-ip': IP } })

const adminList = async (query: string) => {
  const res = await gateway.admin('GET', `/audit-log?${query}`)
  expect(res.status, res.text).toBe(200)
  return res.body.data as Entry[]
}

/** The entries matching `query`, once none is pending any more (the outcome is written after the answer). */
const settled = async (query: string, count: number) => {
  let entries: Entry[] = []
  await expect
    .poll(
      async () => {
        entries = await adminList(query)
        return entries.length >= count && entries.every((e) => e.outcome !== 'pending')
      },
      { timeout: 10_000, interval: 50 },
    )
    .toBe(true)
  return entries
}

describe('money actions', () => {
  it('create, a wrong code, the right code: each recorded with actor, target, outcome, address and request id', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    const created = await call(p.key, 'POST', '/v1/transfers', paymentBody('aud-1'))
    expect(created.status).toBe(201)
    const code = await sfox.latestCode(created.body.provider_reference)
    const wrong = await call(p.key, 'POST', '/v1/transfers/aud-1/confirm', {
      code: code === '000000' ? '111111' : '000000',
    })
    expect(wrong.status).toBe(422)
    const right = await call(p.key, 'POST', '/v1/transfers/aud-1/confirm', { code })
    expect(right.status).toBe(200)

    const entries = await settled(`partner_id=${p.id}&target_id=aud-1`, 3)
    expect(entries.map((e) => [e.action, e.outcome, e.status, e.problem_code])).toEqual([
      ['transfer.confirm', 'succeeded', 200, null],
      ['transfer.confirm', 'refused', 422, wrong.body.code],
      ['transfer.create', 'succeeded', 201, null],
    ])
    const prefix = p.key.slice(0, entries[0]!.actor.label!.length)
    for (const entry of entries) {
      expect(entry).toMatchObject({
        actor: { type: 'api_key', id: p.keyId, label: prefix },
        partner_id: p.id,
        mode: 'test',
        target: { type: 'transfer', id: 'aud-1' },
        client_address: IP,
      })
    }
    expect(entries.map((e) => e.request_id)).toEqual([right, wrong, created].map((r) => r.headers.get('x-request-id')))
    // The partner reads the same entries about itself.
    const own = await call(p.key, 'GET', '/v1/audit-log?target_id=aud-1')
    expect(own.body.data.map((e: Entry) => e.id)).toEqual(entries.map((e) => e.id))
  })

  it('a change and its entry are one batch: when the entry cannot be written, nothing is created at all', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await db.all(
      "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log WHEN NEW.object_id = 'aud-atomic' BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
    )
    try {
      const res = await call(p.key, 'POST', '/v1/transfers', paymentBody('aud-atomic'))
      expect(res.status).toBe(503)
      expect(res.body.code).toBe('service_unavailable')
    } finally {
      await db.all('DROP TRIGGER refuse_audit')
    }
    expect(await db.all("SELECT id FROM transfers WHERE transfer_id = 'aud-atomic'")).toEqual([])
    // Refused before the provider was asked: nothing exists at sFOX either.
    expect(await sfox.transfers(p.sfoxAccount)).toEqual([])
    // The same request again works, and is recorded.
    expect((await call(p.key, 'POST', '/v1/transfers', paymentBody('aud-atomic'))).status).toBe(201)
    const [entry] = await settled(`partner_id=${p.id}&target_id=aud-atomic`, 1)
    expect(entry).toMatchObject({ action: 'transfer.create', outcome: 'succeeded' })
  })

  it('resend and cancel are recorded; a write refused to a read-only key is recorded as refused', async () => {
    const p = await createSfoxPartner(gateway, sfox, { resend_cooldown_seconds: 0 })
    await call(p.key, 'POST', '/v1/transfers', paymentBody('aud-2'))
    expect((await call(p.key, 'POST', '/v1/transfers/aud-2/resend')).status).toBe(200)
    const ro = await gateway.admin('POST', `/partners/${p.id}/api-keys`, { mode: 'test', access: 'read_only' })
    const refused = await call(ro.body.key, 'POST', '/v1/transfers/aud-2/cancel')
    expect(refused.status).toBe(403)
    expect((await call(p.key, 'POST', '/v1/transfers/aud-2/cancel')).status).toBe(200)

    const entries = await settled(`partner_id=${p.id}&target_id=aud-2`, 4)
    expect(entries.map((e) => [e.action, e.outcome, e.problem_code, e.actor.id])).toEqual([
      ['transfer.cancel', 'succeeded', null, p.keyId],
      ['transfer.cancel', 'refused', 'key_not_permitted', ro.body.id],
      ['transfer.resend', 'succeeded', null, p.keyId],
      ['transfer.create', 'succeeded', null, p.keyId],
    ])
  })

  it('reads and unauthenticated writes are not recorded', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await call(p.key, 'POST', '/v1/transfers', paymentBody('aud-3'))
    await call(p.key, 'GET', '/v1/transfers/aud-3')
    await call(p.key, 'GET', '/v1/transfers')
    expect((await call('tgw_test_wrongwrongwrongwrongwrongwrong', 'POST', '/v1/transfers/aud-3/cancel')).status).toBe(
      401,
    )
    const entries = await settled(`partner_id=${p.id}`, 1)
    expect(entries.map((e) => e.action).filter((a) => a.startsWith('transfer.'))).toEqual(['transfer.create'])
    const all = await db.all<{ n: number }>("SELECT count(*) AS n FROM audit_log WHERE object_id = 'aud-3'")
    expect(all[0]!.n).toBe(1)
  })
})

describe('admin and partner configuration', () => {
  it('every admin write names the token it used by fingerprint (current or next), never the token', async () => {
    const created = await gateway.admin('POST', '/partners', { name: 'Audited' })
    const id = created.body.id as string
    const key = await gateway.admin('POST', `/partners/${id}/api-keys`, { mode: 'test' })
    const rolled = await gateway.request('POST', `/admin/partners/${id}/api-keys/${key.body.id}/roll`, {
      key: NEXT_TOKEN,
      body: {},
    })
    expect(rolled.status).toBe(201)
    expect((await gateway.admin('DELETE', `/partners/${id}/api-keys/${rolled.body.id}`)).status).toBe(200)
    const conn = await gateway.admin('PUT', `/partners/${id}/connections/sfox?mode=test`, {
      api_key: 'sfox-key-not-in-the-log',
      base_url: sfox.url,
    })
    expect(conn.status).toBe(200)
    expect((await gateway.admin('PATCH', '/partners/ptr_nobody', { name: 'x' })).status).toBe(404)

    const entries = await settled(`partner_id=${id}`, 5)
    expect(entries.map((e) => [e.action, e.target.type, e.target.id, e.actor.label])).toEqual([
      ['connection.update', 'connection', 'sfox', 'current'],
      ['api_key.revoke', 'api_key', rolled.body.id, 'current'],
      ['api_key.roll', 'api_key', key.body.id, 'next'],
      ['api_key.create', 'api_key', key.body.id, 'current'],
      ['partner.create', 'partner', id, 'current'],
    ])
    expect(entries.every((e) => e.actor.type === 'admin' && e.mode === null)).toBe(true)
    expect(entries[0]!.actor.id).toBe(fingerprint(TEST_SECRETS.ADMIN_TOKEN))
    expect(entries[2]!.actor.id).toBe(fingerprint(NEXT_TOKEN))
    const [missing] = await settled('partner_id=ptr_nobody', 1)
    expect(missing).toMatchObject({ action: 'partner.update', outcome: 'refused', problem_code: 'partner_not_found' })
  })

  it('endpoint changes and portal sign-in and sign-out are recorded with the session as the actor', async () => {
    const p = await createPartner(gateway)
    const endpoint = await call(p.key, 'POST', '/v1/webhook-endpoints', {
      url: 'http://127.0.0.1:9/hook',
      event_types: ['transfer.completed'],
    })
    expect(endpoint.status).toBe(201)
    expect((await call(p.key, 'POST', `/v1/webhook-endpoints/${endpoint.body.id}/rotate-secret`, {})).status).toBe(200)

    const link = await gateway.admin('POST', `/partners/${p.id}/portal-sessions?mode=test`, {})
    // As a browser receives each answer (no redirect followed), from the partner's office.
    const browser = (path: string, init: RequestInit = {}) =>
      fetch(`${gateway.url}${path}`, { redirect: 'manual', ...init })
    const url = new URL(link.body.url)
    const opened = await browser(url.pathname + url.search, { headers: { 'cf-connecting-ip': IP } })
    expect(opened.status).toBe(303)
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!
    const page = await (await browser('/portal', { headers: { cookie } })).text()
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!
    const out = await browser('/portal/logout', {
      method: 'POST',
      body: new URLSearchParams({ _csrf: csrf }).toString(),
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(out.status).toBe(200)
    await out.text()

    const entries = await settled(`partner_id=${p.id}`, 6)
    const byAction = (action: string) => entries.find((e) => e.action === action)!
    expect(byAction('portal.sign_in')).toMatchObject({
      actor: { type: 'portal_session', id: link.body.id },
      target: { type: 'portal_session', id: link.body.id },
      mode: 'test',
      outcome: 'succeeded',
      status: 303,
      client_address: IP,
    })
    expect(byAction('portal.sign_out')).toMatchObject({ actor: { type: 'portal_session', id: link.body.id } })
    expect(byAction('portal_session.create')).toMatchObject({ actor: { type: 'admin' }, target: { id: link.body.id } })
    expect(byAction('webhook_endpoint.create').target.id).toBe(endpoint.body.id)
    expect(byAction('webhook_endpoint.rotate_secret').target.id).toBe(endpoint.body.id)

    // Nothing secret in any entry: not the endpoint's secret, the key, the admin token or the sFOX key.
    const rows = JSON.stringify(await db.all('SELECT * FROM audit_log'))
    for (const secret of [endpoint.body.secret, p.key, TEST_SECRETS.ADMIN_TOKEN, NEXT_TOKEN, 'sfox-key-not-in-the-log'])
      expect(rows).not.toContain(secret)
  })
})

describe('reading the log', () => {
  it("a partner sees its own entries in its key's mode and the operator's actions on it, never another's", async () => {
    const a = await createSfoxPartner(gateway, sfox)
    const b = await createSfoxPartner(gateway, sfox)
    await call(a.key, 'POST', '/v1/transfers', paymentBody('aud-mine'))
    await call(b.key, 'POST', '/v1/transfers', paymentBody('aud-theirs'))
    const live = await gateway.admin('POST', `/partners/${a.id}/api-keys`, { mode: 'live' })
    await settled(`partner_id=${b.id}&target_id=aud-theirs`, 1)
    await settled(`partner_id=${a.id}&target_id=aud-mine`, 1)
    // The new key's id reaches its entry with the outcome, after the answer.
    await settled(`partner_id=${a.id}&action=api_key.create&target_id=${live.body.id}`, 1)

    const asTest = (await call(a.key, 'GET', '/v1/audit-log?limit=100')).body.data as Entry[]
    expect(asTest.every((e) => e.partner_id === a.id && e.mode !== 'live')).toBe(true)
    expect(asTest.map((e) => e.target.id)).toContain('aud-mine')
    expect(asTest.map((e) => e.target.id)).toContain(live.body.id)
    expect(asTest.map((e) => e.target.id)).not.toContain('aud-theirs')
    const asLive = (await call(live.body.key, 'GET', '/v1/audit-log?limit=100')).body.data as Entry[]
    expect(asLive.map((e) => e.target.id)).not.toContain('aud-mine')
  })

  it('filters and pages with a cursor; an unknown cursor or filter value is a 422', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    for (const id of ['aud-p1', 'aud-p2', 'aud-p3']) await call(p.key, 'POST', '/v1/transfers', paymentBody(id))
    await settled(`partner_id=${p.id}&action=transfer.create`, 3)
    const first = await call(p.key, 'GET', '/v1/audit-log?action=transfer.create&limit=2')
    expect(first.body.data.map((e: Entry) => e.target.id)).toEqual(['aud-p3', 'aud-p2'])
    expect(first.body.has_more).toBe(true)
    const next = await call(
      p.key,
      'GET',
      `/v1/audit-log?action=transfer.create&limit=2&starting_after=${first.body.data[1].id}`,
    )
    expect(next.body.data.map((e: Entry) => e.target.id)).toEqual(['aud-p1'])
    expect(next.body.has_more).toBe(false)
    const since = await call(p.key, 'GET', `/v1/audit-log?created_after=${new Date(Date.now() + 60_000).toISOString()}`)
    expect(since.body.data).toEqual([])
    for (const bad of [
      'starting_after=evt_nope',
      'outcome=maybe',
      'actor_type=robot',
      'created_after=yesterday',
      'limit=101',
    ]) {
      const res = await call(p.key, 'GET', `/v1/audit-log?${bad}`)
      expect(res.status, bad).toBe(422)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
    }
  })

  it('entries older than AUDIT_RETENTION_DAYS are pruned by the cron; newer ones stay', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await call(p.key, 'POST', '/v1/transfers', paymentBody('aud-old'))
    await call(p.key, 'POST', '/v1/transfers', paymentBody('aud-new'))
    await settled(`partner_id=${p.id}&action=transfer.create`, 2)
    const aged = Date.now() - 366 * 86_400_000
    await db.all("UPDATE audit_log SET created_at = ? WHERE object_id = 'aud-old'", [aged])
    await gateway.cron()
    const left = await db.all<{ object_id: string }>(
      "SELECT object_id FROM audit_log WHERE object_id IN ('aud-old', 'aud-new')",
    )
    expect(left.map((r) => r.object_id)).toEqual(['aud-new'])
  })
})

describe('outcomes ride with the next write', () => {
  /** Round trips the libSQL server has served for a gateway's database (its /_stats). */
  const roundTrips = async (on: Gateway) => {
    const stats = (await (await fetch(new URL('/_stats', on.dbUrl))).json()) as {
      databases: Record<string, { pipeline_requests: number; cursor_requests: number }>
    }
    const counts = stats.databases[on.database]
    return counts ? counts.pipeline_requests + counts.cursor_requests : 0
  }

  it('an answered request costs no round trip of its own for its outcome while others write after it', async () => {
    // Its own gateway: no provider-count flush (a write of its own) in the middle of the count.
    const own = await startGateway({ vars: { PROVIDER_STATS_FLUSH_SECONDS: '86400' } })
    try {
      const p = await createSfoxPartner(own, sfox)
      // Waiting for outcomes reads the log, and each read is a round trip too: they are counted apart.
      let reads = 0
      const settledLog = () =>
        expect
          .poll(
            async () => {
              reads++
              const entries = (await own.admin('GET', `/audit-log?partner_id=${p.id}&limit=100`)).body.data as Entry[]
              return entries.every((e) => e.outcome !== 'pending')
            },
            { timeout: 10_000, interval: 20 },
          )
          .toBe(true)
      await settledLog()
      const idle = await roundTrips(own)
      await own.admin('GET', `/audit-log?partner_id=${p.id}&limit=100`)
      const perRead = (await roundTrips(own)) - idle
      const N = 3
      // The same wrong codes twice: one after the other, then each only once its outcome went alone.
      const countFor = async (transferId: string, waitEach: boolean) => {
        const created = await own.request('POST', '/v1/transfers', { key: p.key, body: paymentBody(transferId) })
        expect(created.status).toBe(201)
        const code = await sfox.latestCode(created.body.provider_reference)
        await settledLog()
        reads = 0
        const before = await roundTrips(own)
        for (let i = 0; i < N; i++) {
          const wrong = await own.request('POST', `/v1/transfers/${transferId}/confirm`, {
            key: p.key,
            body: { code: code === '000000' ? '111111' : '000000' },
          })
          expect(wrong.status).toBe(422)
          if (waitEach) await settledLog()
        }
        await settledLog()
        return (await roundTrips(own)) - before - reads * perRead
      }
      const together = await countFor('aud-rt-1', false)
      const apart = await countFor('aud-rt-2', true)
      // Apart, each outcome went alone; together, they went with the next request's write (or together).
      expect(apart - together).toBe(N - 1)

      // It rides with the very next write: the first's outcome is there as soon as the second is answered
      // (alone it would wait OUTCOME_FLUSH_MS).
      const created = await own.request('POST', '/v1/transfers', { key: p.key, body: paymentBody('aud-rt-3') })
      const code = await sfox.latestCode(created.body.provider_reference)
      await settledLog()
      const wrongCode = { code: code === '000000' ? '111111' : '000000' }
      const first = await own.request('POST', '/v1/transfers/aud-rt-3/confirm', { key: p.key, body: wrongCode })
      await own.request('POST', '/v1/transfers/aud-rt-3/confirm', { key: p.key, body: wrongCode })
      const ownDb = openDb(own.dbUrl)
      try {
        const rows = await ownDb.all<{ outcome: string }>('SELECT outcome FROM audit_log WHERE request_id = ?', [
          first.headers.get('x-request-id'),
        ])
        expect(rows.map((r) => r.outcome)).toEqual(['refused'])
      } finally {
        ownDb.close()
      }
    } finally {
      await own.close()
    }
  })

  it("with no write to ride with, the isolate's one flush writes every waiting outcome within the second", async () => {
    const own = await startGateway({ vars: { PROVIDER_STATS_FLUSH_SECONDS: '86400' } })
    const ownDb = openDb(own.dbUrl)
    try {
      const p = await createSfoxPartner(own, sfox)
      // The key in this isolate's cache first: the requests below then read nothing.
      expect((await own.request('GET', '/v1/transfers', { key: p.key })).status).toBe(200)
      // Read straight from the database: a read through the gateway would carry waiting outcomes along.
      let reads = 0
      const recorded = async () => {
        reads++
        const [row] = await ownDb.all<{ n: number }>(
          "SELECT count(*) AS n FROM audit_log WHERE partner_id = ? AND action = 'transfer.create'",
          [p.id],
        )
        return Number(row!.n)
      }
      const idle = await roundTrips(own)
      await recorded()
      const perRead = (await roundTrips(own)) - idle
      reads = 0
      const before = await roundTrips(own)
      // Refused by validation: nothing is written for them but their outcomes, which wait in the isolate.
      const N = 100
      const answers = await Promise.all(
        Array.from({ length: N }, (_, i) =>
          own.request('POST', '/v1/transfers', {
            key: p.key,
            body: { ...paymentBody(`aud-flush-${i}`), amount: 'ten' },
          }),
        ),
      )
      expect(answers.map((a) => a.status)).toEqual(Array(N).fill(422))
      await expect.poll(recorded, { timeout: 5_000, interval: 50 }).toBe(N)
      // One round trip for all: the isolate's one flush takes 50, and its write, as any write, takes 50 more along.
      expect((await roundTrips(own)) - before - reads * perRead).toBe(1)
    } finally {
      ownDb.close()
      await own.close()
    }
  })
})
