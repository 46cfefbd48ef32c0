import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, type Gateway, startGateway } from '../helpers/gateway'

/**
 * API keys beyond issue and revoke: `last_used_at` (written after the answer, at most once a minute
 * per key), rolling a key with a grace period (admin API), and the portal's keys pages (list,
 * create, roll, revoke through forms, for the session's partner and mode only).
 *
 * The key cache is off (API_KEY_CACHE_SECONDS=0) so an expiry or revocation is seen by the next call.
 */

let gateway: Gateway
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  gateway = await startGateway({ vars: { API_KEY_CACHE_SECONDS: '0' } })
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
})

const KEY = /tgw_(?:test|live)_[A-Za-z0-9]{32}/g

const keyRow = async (id: string) => {
  const [row] = await db.all<{ last_used_at: number | null; expires_at: number | null; revoked_at: number | null }>(
    'SELECT last_used_at, expires_at, revoked_at FROM api_keys WHERE id = ?',
    [id],
  )
  return row!
}
const lastUsed = async (id: string) => (await keyRow(id)).last_used_at
const keyCount = async (partnerId: string) =>
  Number((await db.all<{ n: number }>('SELECT count(*) AS n FROM api_keys WHERE partner_id = ?', [partnerId]))[0]!.n)

/** A call with the key: 200 if it works, 401 if not. */
const statusWith = async (key: string, via: Gateway = gateway) =>
  (await via.request('GET', '/v1/transfers', { key })).status

const issue = async (partnerId: string, mode: 'test' | 'live' = 'test') => {
  const res = await gateway.admin('POST', `/partners/${partnerId}/api-keys`, { mode })
  expect(res.status).toBe(201)
  return res.body as { id: string; key: string; prefix: string; mode: string }
}

const roll = (partnerId: string, keyId: string, body?: unknown) =>
  gateway.admin('POST', `/partners/${partnerId}/api-keys/${keyId}/roll`, body)

/**
 * Waits until a call with a key whose use was never recorded has had its use written: the deferred
 * writes of the calls made before it (in the same isolate) have then had their chance to land too.
 */
const sentinelWritten = async (partnerId: string, via: Gateway = gateway) => {
  const sentinel = await issue(partnerId)
  expect(await statusWith(sentinel.key, via)).toBe(200)
  await expect.poll(() => lastUsed(sentinel.id), { timeout: 10_000 }).not.toBeNull()
}

describe('last_used_at', () => {
  it('is recorded after a call, shown by the admin API, and not rewritten within a minute', async () => {
    const p = await createPartner(gateway)
    expect((await gateway.admin('GET', `/partners/${p.id}/api-keys`)).body.data[0].last_used_at).toBeNull()
    const before = Date.now()
    expect(await statusWith(p.key)).toBe(200)
    await expect.poll(() => lastUsed(p.keyId), { timeout: 10_000 }).not.toBeNull()
    const first = (await lastUsed(p.keyId))!
    expect(first).toBeGreaterThanOrEqual(before - 1000)
    const listed = await gateway.admin('GET', `/partners/${p.id}/api-keys`)
    expect(listed.body.data.find((k: { id: string }) => k.id === p.keyId).last_used_at).toBe(
      new Date(first).toISOString(),
    )

    for (let i = 0; i < 3; i++) expect(await statusWith(p.key)).toBe(200)
    await sentinelWritten(p.id)
    expect(await lastUsed(p.keyId)).toBe(first)
  })

  it('is written by a fresh isolate only when the stored use is over a minute old', async () => {
    const p = await createPartner(gateway)
    const recent = Date.now() - 30_000
    await db.all('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [recent, p.keyId])
    // A second Worker on the same database knows nothing of the first's recorded uses: only the
    // conditional UPDATE keeps it from writing.
    const other = await startGateway({ database: gateway.database, vars: { API_KEY_CACHE_SECONDS: '0' } })
    try {
      expect(await statusWith(p.key, other)).toBe(200)
      await sentinelWritten(p.id, other)
      expect(await lastUsed(p.keyId)).toBe(recent)
    } finally {
      await other.close()
    }
    // Over a minute old: the first call through an isolate that has not recorded this key writes it.
    const old = Date.now() - 61_000
    await db.all('UPDATE api_keys SET last_used_at = ? WHERE id = ?', [old, p.keyId])
    expect(await statusWith(p.key)).toBe(200)
    await expect.poll(() => lastUsed(p.keyId), { timeout: 10_000 }).toBeGreaterThan(old + 60_000)
  })
})

describe('rolling a key (admin API)', () => {
  it('gives a working new key of the same mode; the old one works through its grace, and 0 stops it', async () => {
    const p = await createPartner(gateway)
    const at = Date.now()
    const rolled = await roll(p.id, p.keyId, { expires_in_seconds: 3600 })
    expect(rolled.status).toBe(201)
    expect(rolled.body).toMatchObject({ object: 'api_key', mode: 'test', expires_at: null, revoked_at: null })
    expect(rolled.body.key).toMatch(/^tgw_test_[A-Za-z0-9]{32}$/)
    expect(rolled.body.id).not.toBe(p.keyId)
    expect(rolled.body.previous_key).toMatchObject({ id: p.keyId, revoked_at: null })
    expect(rolled.body.previous_key).not.toHaveProperty('key')
    const graceEnds = Date.parse(rolled.body.previous_key.expires_at)
    expect(graceEnds).toBeGreaterThanOrEqual(at + 3600_000 - 1000)
    expect(graceEnds).toBeLessThanOrEqual(Date.now() + 3600_000)
    expect((await keyRow(p.keyId)).expires_at).toBe(graceEnds)
    expect(await statusWith(rolled.body.key)).toBe(200)
    expect(await statusWith(p.key)).toBe(200)

    // Rolling never lengthens a key's life: the old key still ends with its first grace.
    const again = await roll(p.id, p.keyId, { expires_in_seconds: 7 * 24 * 3600 })
    expect(again.status).toBe(201)
    expect(again.body.previous_key.expires_at).toBe(rolled.body.previous_key.expires_at)

    // No grace: the rolled key stops at once, its successor works.
    const now = await roll(p.id, rolled.body.id, { expires_in_seconds: 0 })
    expect(now.status).toBe(201)
    expect(Date.parse(now.body.previous_key.expires_at)).toBeLessThanOrEqual(Date.now())
    expect(await statusWith(rolled.body.key)).toBe(401)
    expect(await statusWith(now.body.key)).toBe(200)

    // No body: 24 hours.
    const byDefault = await roll(p.id, now.body.id)
    expect(byDefault.status).toBe(201)
    expect(Date.parse(byDefault.body.previous_key.expires_at) - Date.now()).toBeGreaterThan(24 * 3600_000 - 60_000)

    const live = await issue(p.id, 'live')
    const rolledLive = await roll(p.id, live.id, {})
    expect(rolledLive.body.mode).toBe('live')
    expect(rolledLive.body.key).toMatch(/^tgw_live_/)
  })

  it('refuses a revoked or expired key (api_key_inactive) and writes nothing; unknown keys are 404', async () => {
    const p = await createPartner(gateway)
    const other = await createPartner(gateway)
    expect((await gateway.admin('DELETE', `/partners/${p.id}/api-keys/${p.keyId}`)).status).toBe(200)
    const count = await keyCount(p.id)
    const revoked = await roll(p.id, p.keyId, { expires_in_seconds: 60 })
    expect(revoked.status).toBe(409)
    expect(revoked.body.code).toBe('api_key_inactive')
    expect(revoked.headers.get('content-type')).toBe('application/problem+json')
    expect(revoked.body.detail).toContain('revoked')
    expect(await keyCount(p.id)).toBe(count)

    const fresh = await issue(p.id)
    const stopped = await roll(p.id, fresh.id, { expires_in_seconds: 0 })
    expect(stopped.status).toBe(201)
    const expired = await roll(p.id, fresh.id)
    expect(expired.status).toBe(409)
    expect(expired.body.detail).toContain('expired')

    expect((await roll(p.id, 'key_nope')).body.code).toBe('api_key_not_found')
    const elsewhere = await roll(p.id, other.keyId)
    expect(elsewhere.status).toBe(404)
    expect(elsewhere.body.code).toBe('api_key_not_found')
    expect(await statusWith(other.key)).toBe(200)
    const tooLong = await roll(other.id, other.keyId, { expires_in_seconds: 7 * 24 * 3600 + 1 })
    expect(tooLong.status).toBe(422)
    expect(tooLong.body.errors[0]).toMatchObject({ field: 'expires_in_seconds' })
    expect((await keyRow(other.keyId)).expires_at).toBeNull()
  })
})

// ---------------------------------------------------------------------------------------------
// The portal, over plain HTTP as a browser without JavaScript would use it

const get = (path: string, cookie: string) =>
  fetch(`${gateway.url}${path}`, { redirect: 'manual', headers: { accept: 'text/html', cookie } })
const post = (path: string, form: Record<string, string>, cookie: string) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  })

/** A signed-in portal session of the partner in a mode: its cookie and its forms' CSRF token. */
const session = async (partnerId: string, mode: 'test' | 'live' = 'test') => {
  const link = await gateway.admin('POST', `/partners/${partnerId}/portal-sessions?mode=${mode}`, {})
  expect(link.status).toBe(201)
  const res = await fetch(link.body.url.replace(/^https?:\/\/[^/]+/, gateway.url), { redirect: 'manual' })
  expect(res.status).toBe(303)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  const html = await (await get('/portal/keys', cookie)).text()
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!
  return { cookie, csrf }
}

const keysIn = (html: string) => html.match(KEY) ?? []

describe('the portal keys pages', () => {
  it("list the session's partner's keys of its mode only, newest first, in an accessible table", async () => {
    const a = await createPartner(gateway)
    const first = (await gateway.admin('GET', `/partners/${a.id}/api-keys`)).body.data[0].prefix as string
    const second = await issue(a.id)
    const live = await issue(a.id, 'live')
    const b = await createPartner(gateway)
    const bPrefix = (await gateway.admin('GET', `/partners/${b.id}/api-keys`)).body.data[0].prefix as string
    expect(await statusWith(second.key)).toBe(200)
    await expect.poll(() => lastUsed(second.id), { timeout: 10_000 }).not.toBeNull()

    const { cookie } = await session(a.id)
    const res = await get('/portal/keys', cookie)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const html = await res.text()
    expect(html).toContain(`${first}…`)
    expect(html.indexOf(`${second.prefix}…`)).toBeGreaterThan(-1)
    expect(html.indexOf(`${second.prefix}…`)).toBeLessThan(html.indexOf(`${first}…`))
    expect(html).not.toContain(live.prefix)
    expect(html).not.toContain(bPrefix)
    expect(keysIn(html)).toEqual([])
    expect(html).toContain('<section class="scroll" aria-label="API keys" tabindex="0"><table>')
    expect(html).toContain('<th scope="col">Last used</th>')
    // The newest key was used: its row has a time in the last-used column, the other a dash.
    const rows = html.split('<tr>').slice(2)
    expect(rows[0]).toMatch(
      /<td><time datetime="[^"]+">[^<]+<\/time><\/td><td><span class="muted">—<\/span><\/td><\/tr>/,
    )
    expect(rows[1]).toContain('status-active')
    expect(rows[1]).not.toMatch(/<td><time[^>]*>[^<]*<\/time><\/td><td><span class="muted">—<\/span><\/td><\/tr>/)

    const liveSession = await session(a.id, 'live')
    const liveHtml = await (await get('/portal/keys', liveSession.cookie)).text()
    expect(liveHtml).toContain(live.prefix)
    expect(liveHtml).not.toContain(second.prefix)
  })

  it("create a key of the session's mode through the form and show it exactly once", async () => {
    const a = await createPartner(gateway)
    const { cookie, csrf } = await session(a.id, 'live')
    const count = await keyCount(a.id)
    expect((await post('/portal/keys', {}, cookie)).status).toBe(403)
    expect(await keyCount(a.id)).toBe(count)

    const made = await post('/portal/keys', { _csrf: csrf }, cookie)
    expect(made.status).toBe(201)
    expect(made.headers.get('cache-control')).toBe('no-store')
    const answer = await made.text()
    const [key, ...more] = keysIn(answer)
    expect(more).toEqual([])
    expect(key).toMatch(/^tgw_live_/)
    expect(answer).toContain('will not be shown again')
    expect(await statusWith(key!)).toBe(200)
    expect(JSON.stringify(await db.snapshot())).not.toContain(key)

    const list = await (await get('/portal/keys', cookie)).text()
    expect(list).toContain(`${key!.slice(0, 13)}…`)
    expect(keysIn(list)).toEqual([])

    // An expiry date: the key stops at the start of that day (UTC); a past date is refused.
    const tomorrow = new Date(Date.now() + 24 * 3600_000).toISOString().slice(0, 10)
    const expiring = await post('/portal/keys', { _csrf: csrf, expires_on: tomorrow }, cookie)
    expect(expiring.status).toBe(201)
    const expiringKey = keysIn(await expiring.text())[0]!
    const listed = (await gateway.admin('GET', `/partners/${a.id}/api-keys`)).body.data
    expect(listed.find((k: { prefix: string }) => k.prefix === expiringKey.slice(0, 13)).expires_at).toBe(
      `${tomorrow}T00:00:00.000Z`,
    )
    const past = await post('/portal/keys', { _csrf: csrf, expires_on: '2020-01-01' }, cookie)
    expect(past.status).toBe(422)
    expect(await past.text()).toContain('invalid_request')
    expect(await keyCount(a.id)).toBe(count + 2)
  })

  it('roll a key with the chosen grace, show the new key once, and stop the old one when asked', async () => {
    const p = await createPartner(gateway)
    const { cookie, csrf } = await session(p.id)
    const keyPage = await (await get(`/portal/keys/${p.keyId}`, cookie)).text()
    expect(keyPage).toContain(`action="/portal/keys/${p.keyId}/roll"`)
    expect(keyPage).toContain('<option value="86400" selected="">24 hours</option>')

    const at = Date.now()
    const rolled = await post(`/portal/keys/${p.keyId}/roll`, { _csrf: csrf, grace_seconds: '3600' }, cookie)
    expect(rolled.status).toBe(201)
    const answer = await rolled.text()
    const [key, ...more] = keysIn(answer)
    expect(more).toEqual([])
    expect(answer).toContain('will not be shown again')
    expect(answer).toContain('keeps working until')
    expect(await statusWith(key!)).toBe(200)
    expect(await statusWith(p.key)).toBe(200)
    const graceEnds = (await keyRow(p.keyId)).expires_at!
    expect(graceEnds).toBeGreaterThanOrEqual(at + 3600_000 - 1000)
    expect(graceEnds).toBeLessThanOrEqual(Date.now() + 3600_000)
    expect(keysIn(await (await get('/portal/keys', cookie)).text())).toEqual([])

    // Rolling the new key with no grace: it stops now.
    const newId = (await gateway.admin('GET', `/partners/${p.id}/api-keys`)).body.data.find(
      (k: { prefix: string }) => k.prefix === key!.slice(0, 13),
    ).id as string
    const now = await post(`/portal/keys/${newId}/roll`, { _csrf: csrf, grace_seconds: '0' }, cookie)
    expect(now.status).toBe(201)
    const newest = keysIn(await now.text())[0]!
    expect(await statusWith(key!)).toBe(401)
    expect(await statusWith(newest)).toBe(200)

    // Only the offered choices; an expired key cannot be rolled again.
    const odd = await post(`/portal/keys/${p.keyId}/roll`, { _csrf: csrf, grace_seconds: '5' }, cookie)
    expect(odd.status).toBe(422)
    const again = await post(`/portal/keys/${newId}/roll`, { _csrf: csrf, grace_seconds: '3600' }, cookie)
    expect(again.status).toBe(409)
    expect(await again.text()).toContain('api_key_inactive')
  })

  it('revoke a key only once confirmed, and refuse to roll it afterwards', async () => {
    const p = await createPartner(gateway)
    const { cookie, csrf } = await session(p.id)
    expect((await post(`/portal/keys/${p.keyId}/revoke`, { confirm: 'yes' }, cookie)).status).toBe(403)
    const unconfirmed = await post(`/portal/keys/${p.keyId}/revoke`, { _csrf: csrf }, cookie)
    expect(unconfirmed.status).toBe(422)
    expect(await unconfirmed.text()).toContain('was not revoked')
    expect(await statusWith(p.key)).toBe(200)

    const revoked = await post(`/portal/keys/${p.keyId}/revoke`, { _csrf: csrf, confirm: 'yes' }, cookie)
    expect(revoked.status).toBe(303)
    expect(revoked.headers.get('location')).toBe('/portal/keys?revoked=1')
    expect(await statusWith(p.key)).toBe(401)
    expect((await keyRow(p.keyId)).revoked_at).not.toBeNull()
    const list = await (await get('/portal/keys?revoked=1', cookie)).text()
    expect(list).toContain('The key was revoked.')
    expect(list).toContain('status-revoked')

    const count = await keyCount(p.id)
    const roll = await post(`/portal/keys/${p.keyId}/roll`, { _csrf: csrf, grace_seconds: '0' }, cookie)
    expect(roll.status).toBe(409)
    expect(await roll.text()).toContain('api_key_inactive')
    expect(await keyCount(p.id)).toBe(count)
  })

  it("answer another partner's key, or one of the other mode, with api_key_not_found, as the API does", async () => {
    const a = await createPartner(gateway)
    const b = await createPartner(gateway)
    const aLive = await issue(a.id, 'live')
    const { cookie, csrf } = await session(a.id)
    expect((await get(`/portal/keys/${a.keyId}`, cookie)).status).toBe(200)
    for (const id of [b.keyId, aLive.id, 'key_nope']) {
      const page = await get(`/portal/keys/${id}`, cookie)
      expect(page.status).toBe(404)
      expect(await page.text()).toContain('api_key_not_found')
      expect((await post(`/portal/keys/${id}/roll`, { _csrf: csrf, grace_seconds: '0' }, cookie)).status).toBe(404)
      expect((await post(`/portal/keys/${id}/revoke`, { _csrf: csrf, confirm: 'yes' }, cookie)).status).toBe(404)
    }
    expect(await statusWith(b.key)).toBe(200)
    expect(await statusWith(aLive.key)).toBe(200)
    expect((await keyRow(b.keyId)).expires_at).toBeNull()
    expect((await gateway.admin('DELETE', `/partners/${a.id}/api-keys/${b.keyId}`)).body.code).toBe('api_key_not_found')
  })
})
