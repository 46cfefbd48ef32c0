import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, createSfoxPartner, type Gateway, startGateway, TEST_SECRETS } from '../helpers/gateway'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

/**
 * Access control a payments partner expects: read-only API keys, a per-partner IP allowlist (the
 * client as Cloudflare reports it, CF-Connecting-IP) on the API and the portal, and two admin tokens
 * valid at once for rotation, each admin call logged with the token's fingerprint.
 *
 * The key cache is off (API_KEY_CACHE_SECONDS=0) so an allowlist change is seen by the next call.
 */

const NEXT_TOKEN = 'next-admin-token-9876543210'

let gateway: Gateway
let sfox: SfoxSandbox
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([startGateway({ vars: { API_KEY_CACHE_SECONDS: '0' } }), startSfox()])
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
  await sfox?.close()
})

const issue = async (partnerId: string, body: Record<string, unknown>) => {
  const res = await gateway.admin('POST', `/partners/${partnerId}/api-keys`, body)
  expect(res.status, res.text).toBe(201)
  return res.body as { id: string; key: string; prefix: string; access: string }
}

const call = (key: string, method: string, path: string, init: { body?: unknown; ip?: string; raw?: string } = {}) =>
  gateway.request(method, path, {
    key,
    body: init.body,
    raw: init.raw,
    headers: {
      ...(init.ip ? { 'cf-connecting-ip': init.ip } : {}),
      ...(init.raw !== undefined ? { 'content-type': 'multipart/form-data; boundary=b0undary' } : {}),
    },
  })

const sfoxCalls = async (account: string) => (await sfox.requests({ account })).length

const MULTIPART = [
  '--b0undary',
  'Content-Disposition: form-data; name="files"; filename="passport.pdf"',
  'Content-Type: application/pdf',
  '',
  '%PDF-1.4 read-only',
  '--b0undary',
  'Content-Disposition: form-data; name="file_types"',
  '',
  '{"passport.pdf": "ID"}',
  '--b0undary--',
  '',
].join('\r\n')

// ---------------------------------------------------------------------------------------------

describe('restricted keys', () => {
  it('the admin API issues full (default) and read_only keys and shows the access; anything else is 422', async () => {
    const p = await createPartner(gateway)
    const listed = await gateway.admin('GET', `/partners/${p.id}/api-keys`)
    expect(listed.body.data[0]).toMatchObject({ id: p.keyId, access: 'full' })
    const ro = await issue(p.id, { mode: 'test', access: 'read_only' })
    expect(ro.access).toBe('read_only')
    expect((await issue(p.id, { mode: 'live', access: 'full' })).access).toBe('full')
    const [row] = await db.all<{ access: string }>('SELECT access FROM api_keys WHERE id = ?', [ro.id])
    expect(row!.access).toBe('read_only')
    const bad = await gateway.admin('POST', `/partners/${p.id}/api-keys`, { mode: 'test', access: 'write_only' })
    expect(bad.status).toBe(422)
    expect(bad.body.errors[0]).toMatchObject({ field: 'access' })
  })

  it('a read-only key reads every list and object it could read with full access', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    expect((await p.call('POST', '/v1/transfers', paymentBody('ro-read-1'))).status).toBe(201)
    const ro = await issue(p.id, { mode: 'test', access: 'read_only' })
    for (const path of [
      '/v1/transfers',
      '/v1/transfers/ro-read-1',
      '/v1/events',
      '/v1/webhook-endpoints',
      '/v1/users/user-1/document-submissions',
    ]) {
      const res = await call(ro.key, 'GET', path)
      expect(res.status, `GET ${path}: ${res.text}`).toBe(200)
    }
    expect((await call(ro.key, 'GET', '/v1/transfers/ro-read-1')).body.status).toBe('pending_verification')
    expect((await call(ro.key, 'HEAD', '/v1/transfers')).status).toBe(200)
  })

  it('refuses every write route of /v1 with 403 key_not_permitted: nothing stored, no provider request', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.addUser('user-1', p.sfoxAccount)
    const created = await p.call('POST', '/v1/transfers', paymentBody('ro-write-1'))
    expect(created.status).toBe(201)
    const code = await sfox.latestCode(created.body.provider_reference)
    const endpoint = await p.call('POST', '/v1/webhook-endpoints', { url: 'http://127.0.0.1:9/hooks' })
    expect(endpoint.status, endpoint.text).toBe(201)
    const [event] = (await p.call('GET', '/v1/events')).body.data
    expect(event).toBeDefined()
    const ro = await issue(p.id, { mode: 'test', access: 'read_only' })

    // Every documented write operation under /v1, from the OpenAPI document: a new one is covered too.
    const doc = (await gateway.request('GET', '/openapi.json')).body
    const writes = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, ops]) =>
        Object.keys(ops)
          .filter((m) => m !== 'get' && m !== 'head')
          .map((m) => [m.toUpperCase(), path] as const),
      )
    const names = writes.map(([m, path]) => `${m} ${path}`)
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /v1/transfers',
        'POST /v1/transfers/{transfer_id}/confirm',
        'POST /v1/transfers/{transfer_id}/resend',
        'POST /v1/transfers/{transfer_id}/cancel',
        'POST /v1/users/{user_id}/documents',
        'POST /v1/webhook-endpoints',
        'PATCH /v1/webhook-endpoints/{id}',
        'DELETE /v1/webhook-endpoints/{id}',
        'POST /v1/webhook-endpoints/{id}/rotate-secret',
        'POST /v1/events/{id}/redeliver',
        'POST /v1/portal-sessions',
        'POST /v1/test/transfers/{transfer_id}/{outcome}',
      ]),
    )
    // Bodies that a full key would have had accepted.
    const bodies: Record<string, unknown> = {
      'POST /v1/transfers': paymentBody('ro-write-2'),
      'POST /v1/transfers/{transfer_id}/confirm': { code },
      'POST /v1/webhook-endpoints': { url: 'http://127.0.0.1:9/other' },
      'PATCH /v1/webhook-endpoints/{id}': { description: 'changed' },
    }
    const fill = (path: string) =>
      path
        .replace('{transfer_id}', 'ro-write-1')
        .replace('{user_id}', 'user-1')
        .replace('{outcome}', 'complete')
        .replace('{id}', path.startsWith('/v1/events') ? event.id : endpoint.body.id)

    const before = await db.snapshot()
    const providerCalls = await sfoxCalls(p.sfoxAccount)
    for (const [method, path] of writes) {
      const name = `${method} ${path}`
      const res = path.endsWith('/documents')
        ? await call(ro.key, method, fill(path), { raw: MULTIPART })
        : await call(ro.key, method, fill(path), { body: bodies[name] ?? {} })
      expect(res.status, `${name}: ${res.text}`).toBe(403)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(res.body.code, name).toBe('key_not_permitted')
    }
    // Refused before the body is read: an invalid body is the same 403, not a 422.
    expect((await call(ro.key, 'POST', '/v1/transfers', { body: { nonsense: true } })).body.code).toBe(
      'key_not_permitted',
    )
    expect(await db.snapshot()).toEqual(before)
    expect(await sfoxCalls(p.sfoxAccount)).toBe(providerCalls)

    // The same confirm with the full key goes through: the read-only refusal was the key's access alone.
    const confirmed = await p.call('POST', '/v1/transfers/ro-write-1/confirm', { code })
    expect(confirmed.status, confirmed.text).toBe(200)
    expect(confirmed.body.status).not.toBe('pending_verification')
  })

  it('rolling keeps read_only (admin API and portal), and the rolled key still may not write', async () => {
    const p = await createPartner(gateway)
    const ro = await issue(p.id, { mode: 'test', access: 'read_only' })
    const rolled = await gateway.admin('POST', `/partners/${p.id}/api-keys/${ro.id}/roll`, { expires_in_seconds: 0 })
    expect(rolled.status).toBe(201)
    expect(rolled.body).toMatchObject({ access: 'read_only', previous_key: { id: ro.id, access: 'read_only' } })
    expect((await call(rolled.body.key, 'GET', '/v1/transfers')).status).toBe(200)
    expect((await call(rolled.body.key, 'POST', '/v1/webhook-endpoints', { body: {} })).body.code).toBe(
      'key_not_permitted',
    )
    const full = await gateway.admin('POST', `/partners/${p.id}/api-keys/${p.keyId}/roll`, {})
    expect(full.body.access).toBe('full')

    const { cookie, csrf } = await portalSession(p.id)
    const page = await portalPost(`/portal/keys/${rolled.body.id}/roll`, { _csrf: csrf, grace_seconds: '0' }, cookie)
    expect(page.status).toBe(201)
    const key = /tgw_test_[A-Za-z0-9]{32}/.exec(await page.text())![0]
    expect((await call(key, 'GET', '/v1/transfers')).status).toBe(200)
    expect((await call(key, 'POST', '/v1/transfers/x/cancel', { body: {} })).body.code).toBe('key_not_permitted')
  })

  it('the portal creates full or read-only keys from the form and lists each with its access', async () => {
    const p = await createPartner(gateway)
    const { cookie, csrf } = await portalSession(p.id)
    const form = await (await portalGet('/portal/keys', cookie)).text()
    expect(form).toContain('<select name="access">')
    expect(form).toContain('<option value="read_only">')

    const made = await portalPost('/portal/keys', { _csrf: csrf, access: 'read_only' }, cookie)
    expect(made.status).toBe(201)
    const answer = await made.text()
    expect(answer).toContain('<dt>Access</dt><dd>read only</dd>')
    const key = /tgw_test_[A-Za-z0-9]{32}/.exec(answer)![0]
    expect((await call(key, 'GET', '/v1/transfers')).status).toBe(200)
    expect((await call(key, 'POST', '/v1/webhook-endpoints', { body: {} })).body.code).toBe('key_not_permitted')

    const byDefault = await portalPost('/portal/keys', { _csrf: csrf }, cookie)
    const fullKey = /tgw_test_[A-Za-z0-9]{32}/.exec(await byDefault.text())![0]
    const endpoint = await call(fullKey, 'POST', '/v1/webhook-endpoints', { body: { url: 'http://127.0.0.1:9/h' } })
    expect(endpoint.status).toBe(201)

    const bad = await portalPost('/portal/keys', { _csrf: csrf, access: 'admin' }, cookie)
    expect(bad.status).toBe(422)

    const keys = (await gateway.admin('GET', `/partners/${p.id}/api-keys`)).body.data as { prefix: string }[]
    const list = await (await portalGet('/portal/keys', cookie)).text()
    expect(list).toContain('<th scope="col">Access</th>')
    const rowOf = (prefix: string) => list.split('<tr>').find((r) => r.includes(`${prefix}…`))!
    expect(rowOf(key.slice(0, 13))).toContain('<td>read only</td>')
    expect(rowOf(fullKey.slice(0, 13))).toContain('<td>full</td>')
    expect(keys).toHaveLength(3)
  })
})

// ---------------------------------------------------------------------------------------------

const portalGet = (path: string, cookie: string, ip?: string) =>
  fetch(`${gateway.url}${path}`, {
    redirect: 'manual',
    headers: { accept: 'text/html', cookie, ...(ip ? { 'cf-connecting-ip': ip } : {}) },
  })
const portalPost = (path: string, form: Record<string, string>, cookie: string) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  })

/** A signed-in portal session (test mode): its cookie and its forms' CSRF token. */
const portalSession = async (partnerId: string, ip?: string) => {
  const link = await gateway.admin('POST', `/partners/${partnerId}/portal-sessions?mode=test`, {})
  expect(link.status).toBe(201)
  const res = await fetch(link.body.url.replace(/^https?:\/\/[^/]+/, gateway.url), { redirect: 'manual' })
  expect(res.status).toBe(303)
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!
  const html = await (await portalGet('/portal/keys', cookie, ip)).text()
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? ''
  return { cookie, csrf }
}

const setAllowlist = (partnerId: string, list: string[] | null) =>
  gateway.admin('PATCH', `/partners/${partnerId}`, { ip_allowlist: list })

describe('IP allowlist', () => {
  it('is validated and normalised by the admin API; null clears it, an empty list is refused', async () => {
    const created = await gateway.admin('POST', '/partners', {
      name: 'Allowlisted',
      ip_allowlist: ['203.0.113.7', '10.1.2.3/8', '2001:0DB8:0:0::/32', ' 10.0.0.0/8 ', '::ffff:192.0.2.0/120'],
    })
    expect(created.status, created.text).toBe(201)
    expect(created.body.ip_allowlist).toEqual(['203.0.113.7/32', '10.0.0.0/8', '2001:db8::/32', '192.0.2.0/24'])
    const id = created.body.id
    expect((await gateway.admin('GET', `/partners/${id}`)).body.ip_allowlist).toEqual(created.body.ip_allowlist)
    // A PATCH without the field leaves it alone.
    expect((await gateway.admin('PATCH', `/partners/${id}`, { name: 'Renamed' })).body.ip_allowlist).toEqual(
      created.body.ip_allowlist,
    )

    const bad = await setAllowlist(id, ['10.0.0.0/8', '10.0.0.0/33', 'example.com', '2001:db8::/129'])
    expect(bad.status).toBe(422)
    expect(bad.body.code).toBe('invalid_request')
    expect(bad.body.errors).toEqual([
      expect.objectContaining({ field: 'ip_allowlist.1', pointer: '/ip_allowlist/1', code: 'invalid_cidr' }),
      expect.objectContaining({ field: 'ip_allowlist.2', code: 'invalid_cidr' }),
      expect.objectContaining({ field: 'ip_allowlist.3', code: 'invalid_cidr' }),
    ])
    expect((await setAllowlist(id, [])).status).toBe(422)
    expect((await setAllowlist(id, ['1.2.3.4' as never, 5 as never])).status).toBe(422)
    expect((await gateway.admin('GET', `/partners/${id}`)).body.ip_allowlist).toEqual(created.body.ip_allowlist)

    const cleared = await setAllowlist(id, null)
    expect(cleared.body.ip_allowlist).toBeNull()
    expect((await gateway.admin('POST', '/partners', { name: 'Open' })).body.ip_allowlist).toBeNull()
  })

  it('admits addresses inside it (IPv4, IPv6, IPv4-mapped) and refuses others and a missing address', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    expect((await setAllowlist(p.id, ['203.0.113.0/24', '2001:db8::/32'])).status).toBe(200)
    for (const ip of ['203.0.113.9', '203.0.113.255', '2001:db8::5', '2001:DB8:ffff::1', '::ffff:203.0.113.10']) {
      const res = await call(p.key, 'GET', '/v1/transfers', { ip })
      expect(res.status, `${ip}: ${res.text}`).toBe(200)
    }
    for (const ip of [
      undefined,
      '203.0.114.1',
      '198.51.100.1',
      '2001:db9::1',
      '::1',
      'not-an-ip',
      '203.0.113.9, 1.2.3.4',
    ]) {
      const res = await call(p.key, 'GET', '/v1/transfers', { ip })
      expect(res.status, String(ip)).toBe(403)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(res.body.code).toBe('ip_not_allowed')
      // Miniflare, like Cloudflare's edge, fills CF-Connecting-IP from the socket when a request has
      // none (a header the client sends is passed through): no header here is 127.0.0.1, outside the
      // list. A request reaching the Worker with no address at all is refused too (test/unit/cidr.test.ts).
      expect(res.body.detail).toContain(ip ?? '127.0.0.1')
    }
    // The address Cloudflare reports is the one checked: list the socket's address and no header is needed.
    await setAllowlist(p.id, ['203.0.113.0/24', '127.0.0.1'])
    expect((await call(p.key, 'GET', '/v1/transfers')).status).toBe(200)
    await setAllowlist(p.id, ['203.0.113.0/24', '2001:db8::/32'])
    // Only CF-Connecting-IP counts: a client's own X-Forwarded-For is not believed.
    const forwarded = await gateway.request('GET', '/v1/transfers', {
      key: p.key,
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9' },
    })
    expect(forwarded.body.code).toBe('ip_not_allowed')

    // A refused write reaches no provider and stores nothing.
    const before = await db.snapshot()
    const providerCalls = await sfoxCalls(p.sfoxAccount)
    for (const ip of [undefined, '198.51.100.1']) {
      const res = await call(p.key, 'POST', '/v1/transfers', { body: paymentBody('outside-1'), ip })
      expect(res.body.code).toBe('ip_not_allowed')
    }
    expect(await db.snapshot()).toEqual(before)
    expect(await sfoxCalls(p.sfoxAccount)).toBe(providerCalls)
    // From inside, the same request goes through to sFOX.
    const inside = await call(p.key, 'POST', '/v1/transfers', { body: paymentBody('outside-1'), ip: '2001:db8::7' })
    expect(inside.status, inside.text).toBe(201)
    expect(await sfoxCalls(p.sfoxAccount)).toBeGreaterThan(providerCalls)
  })

  it('takes effect on the next call after a PATCH (cache off), and clearing it admits every address', async () => {
    const p = await createPartner(gateway)
    expect((await call(p.key, 'GET', '/v1/transfers', { ip: '198.51.100.1' })).status).toBe(200)
    expect((await call(p.key, 'GET', '/v1/transfers')).status).toBe(200)
    await setAllowlist(p.id, ['192.0.2.0/24'])
    expect((await call(p.key, 'GET', '/v1/transfers', { ip: '198.51.100.1' })).body.code).toBe('ip_not_allowed')
    expect((await call(p.key, 'GET', '/v1/transfers', { ip: '192.0.2.1' })).status).toBe(200)
    await setAllowlist(p.id, ['198.51.100.0/24'])
    expect((await call(p.key, 'GET', '/v1/transfers', { ip: '198.51.100.1' })).status).toBe(200)
    expect((await call(p.key, 'GET', '/v1/transfers', { ip: '192.0.2.1' })).body.code).toBe('ip_not_allowed')
    await setAllowlist(p.id, null)
    expect((await call(p.key, 'GET', '/v1/transfers')).status).toBe(200)
    // Another partner's list never applies.
    const other = await createPartner(gateway)
    await setAllowlist(other.id, ['192.0.2.0/24'])
    expect((await call(p.key, 'GET', '/v1/transfers', { ip: '198.51.100.1' })).status).toBe(200)
  })

  it('with the key cache on, a change takes effect within API_KEY_CACHE_SECONDS', async () => {
    const cached = await startGateway({ database: gateway.database, vars: { API_KEY_CACHE_SECONDS: '1' } })
    try {
      const p = await createPartner(cached)
      const from = (ip: string) =>
        cached.request('GET', '/v1/transfers', { key: p.key, headers: { 'cf-connecting-ip': ip } })
      expect((await from('198.51.100.1')).status).toBe(200)
      expect((await cached.admin('PATCH', `/partners/${p.id}`, { ip_allowlist: ['192.0.2.0/24'] })).status).toBe(200)
      await expect.poll(async () => (await from('198.51.100.1')).status, { timeout: 5_000, interval: 200 }).toBe(403)
      expect((await from('192.0.2.1')).status).toBe(200)
    } finally {
      await cached.close()
    }
  })

  it('applies to the portal too: every page from outside the list (or with no address) is 403', async () => {
    const p = await createPartner(gateway)
    const { cookie } = await portalSession(p.id)
    expect((await portalGet('/portal/keys', cookie)).status).toBe(200)
    await setAllowlist(p.id, ['192.0.2.0/24', '2001:db8::/32'])
    expect((await portalGet('/portal/keys', cookie, '192.0.2.77')).status).toBe(200)
    expect((await portalGet('/portal', cookie, '2001:db8::77')).status).toBe(200)
    for (const ip of [undefined, '198.51.100.1', '2001:db9::1']) {
      const res = await portalGet('/portal/keys', cookie, ip)
      expect(res.status, String(ip)).toBe(403)
      const html = await res.text()
      expect(html).toContain('<code>ip_not_allowed</code>')
      expect(html).toContain(ip ?? '127.0.0.1')
      expect(html).not.toContain(p.id)
    }
    // Nothing can be changed from outside either.
    const count = (await gateway.admin('GET', `/partners/${p.id}/api-keys`)).body.data.length
    const made = await fetch(`${gateway.url}/portal/keys`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': '198.51.100.1' },
      body: 'access=full',
    })
    expect(made.status).toBe(403)
    expect((await gateway.admin('GET', `/partners/${p.id}/api-keys`)).body.data.length).toBe(count)
  })
})

// ---------------------------------------------------------------------------------------------

const fingerprint = (token: string) =>
  createHmac('sha256', TEST_SECRETS.API_KEY_SECRET).update(`admin-token:${token}`).digest('hex').slice(0, 8)

const requestLines = (gw: Gateway) =>
  gw.logs
    .map((l) => {
      try {
        return JSON.parse(l.message)
      } catch {
        return null
      }
    })
    .filter((l) => l?.msg === 'request')

describe('admin tokens', () => {
  it('ADMIN_TOKEN and ADMIN_TOKEN_NEXT both work; the log names which by fingerprint, never the token', async () => {
    const rotating = await startGateway({ database: gateway.database, vars: { ADMIN_TOKEN_NEXT: NEXT_TOKEN } })
    try {
      const as = (token: string | undefined, path = '/admin/partners') =>
        rotating.request('GET', path, { key: token, headers: { 'x-probe': token ? fingerprint(token) : 'none' } })
      expect((await as(TEST_SECRETS.ADMIN_TOKEN)).status).toBe(200)
      expect((await as(NEXT_TOKEN)).status).toBe(200)
      for (const wrong of [undefined, `${NEXT_TOKEN}x`, NEXT_TOKEN.slice(0, -1), 'wrong-admin-token-000000']) {
        const res = await as(wrong)
        expect(res.status).toBe(401)
        expect(res.body.code).toBe('unauthorized')
      }
      // Writes work with either token too.
      const created = await rotating.request('POST', '/admin/partners', { key: NEXT_TOKEN, body: { name: 'Next' } })
      expect(created.status).toBe(201)

      await expect
        .poll(() => requestLines(rotating).filter((l) => l.route?.startsWith('/admin')).length)
        .toBeGreaterThanOrEqual(7)
      const lines = requestLines(rotating).filter((l) => l.path?.startsWith('/admin'))
      const ok = lines.filter((l) => l.status < 300)
      expect(ok.map((l) => [l.admin_token, l.admin_token_slot])).toEqual([
        [fingerprint(TEST_SECRETS.ADMIN_TOKEN), 'current'],
        [fingerprint(NEXT_TOKEN), 'next'],
        [fingerprint(NEXT_TOKEN), 'next'],
      ])
      expect(fingerprint(TEST_SECRETS.ADMIN_TOKEN)).not.toBe(fingerprint(NEXT_TOKEN))
      for (const refused of lines.filter((l) => l.status === 401)) expect(refused).not.toHaveProperty('admin_token')
      const all = rotating.logs.map((l) => l.message).join('\n')
      for (const secret of [TEST_SECRETS.ADMIN_TOKEN, NEXT_TOKEN, NEXT_TOKEN.slice(0, -1), 'wrong-admin-token'])
        expect(all).not.toContain(secret)
    } finally {
      await rotating.close()
    }
  })

  it('without ADMIN_TOKEN_NEXT only ADMIN_TOKEN works', async () => {
    expect((await gateway.request('GET', '/admin/partners', { key: TEST_SECRETS.ADMIN_TOKEN })).status).toBe(200)
    const next = await gateway.request('GET', '/admin/partners', { key: NEXT_TOKEN })
    expect(next.status).toBe(401)
  })

  it('once NEXT is promoted to ADMIN_TOKEN (and NEXT cleared), the old token stops working', async () => {
    const promoted = await startGateway({ database: gateway.database, vars: { ADMIN_TOKEN: NEXT_TOKEN } })
    try {
      expect((await promoted.request('GET', '/admin/partners', { key: NEXT_TOKEN })).status).toBe(200)
      expect((await promoted.request('GET', '/admin/partners', { key: TEST_SECRETS.ADMIN_TOKEN })).status).toBe(401)
      const [line] = requestLines(promoted).filter((l) => l.status === 200 && l.path === '/admin/partners')
      expect(line).toMatchObject({ admin_token: fingerprint(NEXT_TOKEN), admin_token_slot: 'current' })
    } finally {
      await promoted.close()
    }
  })
})
