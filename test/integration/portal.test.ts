import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, type Gateway, startGateway } from '../helpers/gateway'
import { paymentBody } from '../helpers/sfox'

/**
 * The partner portal's access, over plain HTTP (the browser suite walks the pages): login links are
 * single-use and short-lived, the session cookie is HttpOnly/SameSite=Strict on /portal and stored
 * only as a hash, every form needs its CSRF token, and a session sees one partner in one mode.
 */

let gateway: Gateway
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  gateway = await startGateway()
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
})

/** Follows nothing: each answer as the browser would receive it. */
const get = (url: string, cookie?: string) =>
  fetch(url.startsWith('http') ? url : `${gateway.url}${url}`, {
    redirect: 'manual',
    headers: { accept: 'text/html', ...(cookie ? { cookie } : {}) },
  })
const post = (path: string, form: Record<string, string>, cookie?: string) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...(cookie ? { cookie } : {}), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  })

const mint = async (partnerId: string, body: Record<string, unknown> = {}, mode = 'test') => {
  const res = await gateway.admin('POST', `/partners/${partnerId}/portal-sessions?mode=${mode}`, body)
  expect(res.status).toBe(201)
  return res.body
}

/** Opens a link and returns the session cookie (name=value). */
const login = async (url: string) => {
  const res = await get(url.replace(/^https?:\/\/[^/]+/, gateway.url))
  expect(res.status).toBe(303)
  expect(res.headers.get('location')).toBe('/portal')
  return res.headers.get('set-cookie')!.split(';')[0]!
}

const csrfOf = async (cookie: string) => {
  const html = await (await get('/portal', cookie)).text()
  return /name="_csrf" value="([^"]+)"/.exec(html)![1]!
}

describe('login links', () => {
  it('are minted by an operator or by the partner with its own key, and shown once', async () => {
    const partner = await createPartner(gateway)
    const link = await mint(partner.id, { return_url: 'https://partner.example/dashboard', ttl_seconds: 120 })
    expect(link).toMatchObject({
      object: 'portal_session',
      livemode: false,
      return_url: 'https://partner.example/dashboard',
    })
    expect(link.url).toMatch(/\/portal\/login\?token=[A-Za-z0-9]{43}$/)
    expect(Date.parse(link.expires_at) - Date.now()).toBeLessThanOrEqual(120_000)
    const own = await partner.call('POST', '/v1/portal-sessions', {})
    expect(own.status).toBe(201)
    expect(own.body.livemode).toBe(false)
    // Neither the token nor the cookie is stored: only keyed hashes.
    const token = new URL(link.url).searchParams.get('token')!
    const cookie = await login(link.url)
    const stored = JSON.stringify(await db.all('select * from portal_sessions'))
    expect(stored).not.toContain(token)
    expect(stored).not.toContain(cookie.split('=')[1])
  })

  it('open once: a second click, an expired or revoked link, or a made-up token is refused', async () => {
    const partner = await createPartner(gateway)
    const link = await mint(partner.id)
    await login(link.url)
    const again = await get(link.url.replace(/^https?:\/\/[^/]+/, gateway.url))
    expect(again.status).toBe(401)
    expect(await again.text()).toContain('expired or was already used')
    expect((await get('/portal/login?token=nope')).status).toBe(401)

    const expired = await mint(partner.id)
    await db.all('update portal_sessions set login_expires_at = 0 where id = ?', [expired.id])
    expect((await get(expired.url.replace(/^https?:\/\/[^/]+/, gateway.url))).status).toBe(401)
  })

  it('set an HttpOnly, SameSite=Strict cookie for /portal only, and the portal sends its own CSP', async () => {
    const partner = await createPartner(gateway)
    const res = await get((await mint(partner.id)).url.replace(/^https?:\/\/[^/]+/, gateway.url))
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Strict/i)
    expect(cookie).toMatch(/Path=\/portal/i)
    const slash = await get('/portal/')
    expect([slash.status, slash.headers.get('location')]).toEqual([301, '/portal'])
    const page = await get('/portal', cookie.split(';')[0])
    expect(page.status).toBe(200)
    const csp = page.headers.get('content-security-policy')!
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("style-src 'self'")
    expect(csp).not.toMatch(/unsafe-inline|https:/)
    // The API keeps its own, stricter headers.
    expect((await gateway.request('GET', '/health')).headers.get('content-security-policy')).toContain(
      "default-src 'none'",
    )
    const css = /href="(\/portal\/assets\/portal\.[0-9a-f]{8}\.css)"/.exec(await page.text())![1]!
    const sheet = await get(css)
    expect(sheet.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
  })

  it('end for good when revoked, and the revocation covers every session of the partner', async () => {
    const partner = await createPartner(gateway)
    const cookie = await login((await mint(partner.id)).url)
    expect((await get('/portal', cookie)).status).toBe(200)
    const revoked = await gateway.admin('DELETE', `/partners/${partner.id}/portal-sessions`)
    expect(revoked.body).toEqual({ object: 'portal_session_revocation', revoked: 1 })
    expect((await get('/portal', cookie)).status).toBe(401)
    expect((await get('/portal')).status).toBe(401)
  })
})

describe('a session', () => {
  it('sees only its partner and mode: another partner’s transfer is a 404', async () => {
    const a = await createPartner(gateway, { name: 'Partner A' })
    const b = await createPartner(gateway, { name: 'Partner B' })
    expect((await a.call('POST', '/v1/transfers', paymentBody('portal-a-1'))).status).toBe(201)
    const cookieA = await login((await mint(a.id)).url)
    const cookieB = await login((await mint(b.id)).url)
    const own = await get('/portal/transfers/portal-a-1', cookieA)
    expect(own.status).toBe(200)
    expect(await own.text()).toContain('portal-a-1')
    const other = await get('/portal/transfers/portal-a-1', cookieB)
    expect(other.status).toBe(404)
    expect(await other.text()).toContain('transfer_not_found')
    expect(await (await get('/portal/transfers', cookieB)).text()).not.toContain('portal-a-1')
    // Test data is labelled, and a live session of A does not see A's test transfer.
    expect(await (await get('/portal/transfers', cookieA)).text()).toContain('Test data')
    const live = await login((await mint(a.id, {}, 'live')).url)
    expect((await get('/portal/transfers/portal-a-1', live)).status).toBe(404)
  })

  it('changes nothing without the form’s CSRF token, and signs out for good', async () => {
    const partner = await createPartner(gateway)
    const cookie = await login((await mint(partner.id)).url)
    expect((await post('/portal/logout', {}, cookie)).status).toBe(403)
    expect((await post('/portal/logout', { _csrf: 'x'.repeat(64) }, cookie)).status).toBe(403)
    expect((await get('/portal', cookie)).status).toBe(200)
    const out = await post('/portal/logout', { _csrf: await csrfOf(cookie) }, cookie)
    expect(out.status).toBe(200)
    expect((await get('/portal', cookie)).status).toBe(401)
  })

  it('filters and searches transfers, newest first, by id or provider reference', async () => {
    const partner = await createPartner(gateway)
    for (const id of ['f-1', 'f-2', 'f-3']) await partner.call('POST', '/v1/transfers', paymentBody(id))
    await partner.call('POST', '/v1/transfers/f-2/cancel')
    const cookie = await login((await mint(partner.id)).url)
    // The overview counts them by status, over 24 hours and 7 days alike (one aged a week back shows in neither).
    await db.all(
      "update transfers set created_at = created_at - 8 * 86400000 where partner_id = ? and transfer_id = 'f-1'",
      [partner.id],
    )
    const overview = await (await get('/portal', cookie)).text()
    for (const window of ['24 hours', '7 days'])
      expect(overview).toContain(
        `last ${window}: submitting 0, pending_verification 1, processing 0, completed 0, failed 0, canceled 1,`,
      )
    const list = await (await get('/portal/transfers', cookie)).text()
    expect(list.indexOf('f-3')).toBeLessThan(list.indexOf('f-1'))
    const canceled = await (await get('/portal/transfers?status=canceled', cookie)).text()
    expect(canceled).toContain('f-2')
    expect(canceled).not.toContain('>f-1<')
    const ref = (await partner.call('GET', '/v1/transfers/f-3')).body.provider_reference
    const found = await (await get(`/portal/transfers?search=${ref}`, cookie)).text()
    expect(found).toContain('>f-3<')
    expect(found).not.toContain('>f-1<')
  })
})

it('lists document submissions with names, sizes and digests, never contents', async () => {
  const partner = await createPartner(gateway)
  const content = '%PDF-1.4 portal secret content'
  const form = new FormData()
  form.append('files', new Blob([content], { type: 'application/pdf' }), 'passport.pdf')
  form.append('file_types', JSON.stringify({ 'passport.pdf': 'ID' }))
  const sent = await fetch(`${gateway.url}/v1/users/kyc-user-1/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${partner.key}`, 'idempotency-key': 'portal-docs-1' },
    body: form,
  })
  expect(sent.status).toBe(202)
  const cookie = await login((await mint(partner.id)).url)
  const html = await (await get('/portal/documents?user_id=kyc-user-1', cookie)).text()
  expect(html).toContain('passport.pdf')
  expect(html).toContain(createHash('sha256').update(content).digest('hex'))
  expect(html).toContain(`>${Buffer.byteLength(content)}<`)
  expect(html).not.toContain('portal secret content')
  expect(await (await get('/portal/documents?user_id=someone-else', cookie)).text()).not.toContain('passport.pdf')
})

it('a portal cookie is no API credential', async () => {
  const partner = await createPartner(gateway)
  const cookie = await login((await mint(partner.id)).url)
  const res = await fetch(`${gateway.url}/v1/transfers`, { headers: { cookie } })
  expect(res.status).toBe(401)
})
