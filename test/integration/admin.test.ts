import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, type Gateway, startGateway, TEST_SECRETS } from '../helpers/gateway'

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

describe('admin authentication', () => {
  it('refuses a missing or wrong admin token with 401 problem+json', async () => {
    for (const key of [undefined, 'wrong-token', `${TEST_SECRETS.ADMIN_TOKEN}x`]) {
      const res = await gateway.request('GET', '/admin/partners', { key })
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(res.headers.get('www-authenticate')).toContain('Bearer')
      expect(res.body.code).toBe('unauthorized')
    }
  })

  it('a partner API key is not an admin token', async () => {
    const p = await createPartner(gateway)
    expect((await gateway.request('GET', '/admin/partners', { key: p.key })).status).toBe(401)
  })
})

describe('partners', () => {
  it('creates, reads, updates and lists partners', async () => {
    const created = await gateway.admin('POST', '/partners', { name: 'Acme', resend_limit: 5 })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      object: 'partner',
      name: 'Acme',
      resend_limit: 5,
      resend_cooldown_seconds: null,
      confirm_attempts: null,
    })
    expect(created.body.id).toMatch(/^ptn_/)
    const id = created.body.id
    expect((await gateway.admin('GET', `/partners/${id}`)).body).toEqual(created.body)
    const updated = await gateway.admin('PATCH', `/partners/${id}`, { resend_cooldown_seconds: 30, resend_limit: null })
    expect(updated.body).toMatchObject({ name: 'Acme', resend_limit: null, resend_cooldown_seconds: 30 })
    const list = await gateway.admin('GET', '/partners?limit=100')
    expect(list.body.object).toBe('list')
    expect(list.body.data.map((p: any) => p.id)).toContain(id)
  })

  it('validates input with field errors and 404s unknown partners', async () => {
    const bad = await gateway.admin('POST', '/partners', { name: '', resend_limit: -1, extra: true })
    expect(bad.status).toBe(422)
    const fields = bad.body.errors.map((e: any) => e.field)
    expect(fields).toEqual(expect.arrayContaining(['name', 'resend_limit']))
    expect(bad.body.errors.some((e: any) => e.code === 'unrecognized_keys')).toBe(true)
    expect((await gateway.admin('GET', '/partners/ptn_nope')).body.code).toBe('partner_not_found')
    expect((await gateway.admin('PATCH', '/partners/ptn_nope', { name: 'x' })).status).toBe(404)
    expect((await gateway.admin('POST', '/partners/ptn_nope/api-keys', { mode: 'test' })).status).toBe(404)
    const cursor = await gateway.admin('GET', '/partners?starting_after=ptn_nope')
    expect(cursor.status).toBe(422)
    expect(cursor.body.errors[0]).toMatchObject({ field: 'starting_after', code: 'not_found' })
  })
})

describe('API keys', () => {
  it('are shown once; only a keyed hash and a short prefix are stored', async () => {
    const { body: partner } = await gateway.admin('POST', '/partners', { name: 'Keys' })
    const issued = await gateway.admin('POST', `/partners/${partner.id}/api-keys`, { mode: 'live' })
    expect(issued.status).toBe(201)
    expect(issued.body.key).toMatch(/^tgw_live_[A-Za-z0-9]{32}$/)
    expect(issued.body.prefix).toBe(issued.body.key.slice(0, 13))
    const listed = await gateway.admin('GET', `/partners/${partner.id}/api-keys`)
    expect(listed.body.data).toHaveLength(1)
    expect(listed.body.data[0]).not.toHaveProperty('key')
    expect(JSON.stringify(listed.body)).not.toContain(issued.body.key)
    const [row] = await db.all<{ hash: string; prefix: string }>('SELECT hash, prefix FROM api_keys WHERE id = ?', [
      issued.body.id,
    ])
    expect(row!.hash).toMatch(/^[0-9a-f]{64}$/)
    expect(JSON.stringify(await db.snapshot())).not.toContain(issued.body.key)
  })

  it('revoked and expired keys stop working', async () => {
    const fresh = await startGateway({ vars: { API_KEY_CACHE_SECONDS: '0' }, database: gateway.database })
    try {
      const p = await createPartner(fresh)
      expect((await p.call('GET', '/v1/transfers')).status).toBe(200)
      const revoked = await fresh.admin('DELETE', `/partners/${p.id}/api-keys/${p.keyId}`)
      expect(revoked.status).toBe(200)
      expect(revoked.body.revoked_at).not.toBeNull()
      const again = await fresh.admin('DELETE', `/partners/${p.id}/api-keys/${p.keyId}`)
      expect(again.body.revoked_at).toBe(revoked.body.revoked_at)
      expect((await p.call('GET', '/v1/transfers')).status).toBe(401)

      const soon = new Date(Date.now() + 1500).toISOString()
      const expiring = await fresh.admin('POST', `/partners/${p.id}/api-keys`, { mode: 'test', expires_at: soon })
      expect(expiring.body.expires_at).toBe(soon)
      expect((await fresh.request('GET', '/v1/transfers', { key: expiring.body.key })).status).toBe(200)
      await new Promise((r) => setTimeout(r, 1600))
      expect((await fresh.request('GET', '/v1/transfers', { key: expiring.body.key })).status).toBe(401)
      expect((await fresh.admin('DELETE', `/partners/${p.id}/api-keys/key_nope`)).body.code).toBe('api_key_not_found')
      const past = await fresh.admin('POST', `/partners/${p.id}/api-keys`, {
        mode: 'test',
        expires_at: new Date(Date.now() - 1000).toISOString(),
      })
      expect(past.status).toBe(422)
      expect(past.body.errors[0]).toMatchObject({ field: 'expires_at', code: 'in_the_past' })
      expect((await fresh.admin('GET', `/partners/${p.id}/api-keys`)).body.data).toHaveLength(2)
    } finally {
      await fresh.close()
    }
  })
})

describe('provider connections', () => {
  it('stores credentials encrypted and never returns them', async () => {
    const { body: partner } = await gateway.admin('POST', '/partners', { name: 'Conn' })
    const secret = 'sfox-enterprise-key-SECRET-123'
    const put = await gateway.admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
      api_key: secret,
      base_url: 'https://api.sfox.com',
    })
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject({
      object: 'provider_connection',
      provider: 'sfox',
      base_url: 'https://api.sfox.com',
      partner_id: partner.id,
    })
    expect(JSON.stringify(put.body)).not.toContain(secret)
    const list = await gateway.admin('GET', `/partners/${partner.id}/connections`)
    expect(list.body.data).toHaveLength(1)
    expect(JSON.stringify(list.body)).not.toContain(secret)
    expect(JSON.stringify(await db.snapshot())).not.toContain(secret)
    const [row] = await db.all<{ credentials: string }>(
      'SELECT credentials FROM provider_connections WHERE partner_id = ?',
      [partner.id],
    )
    expect(row!.credentials).toMatch(/^v1\./)
    // Replacing keeps one connection.
    await gateway.admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
      api_key: 'other',
      base_url: 'http://127.0.0.1:8788',
    })
    expect((await gateway.admin('GET', `/partners/${partner.id}/connections`)).body.data).toMatchObject([
      { base_url: 'http://127.0.0.1:8788' },
    ])
    expect(gateway.logs.map((l) => l.message).join('\n')).not.toContain(secret)
  })

  it('validates the base URL and removes connections', async () => {
    const { body: partner } = await gateway.admin('POST', '/partners', { name: 'Conn2' })
    const bad = await gateway.admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
      api_key: 'k',
      base_url: 'ftp://x',
    })
    expect(bad.status).toBe(422)
    expect(bad.body.errors[0].field).toBe('base_url')
    await gateway.admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
      api_key: 'k',
      base_url: 'https://x.test',
    })
    expect((await gateway.admin('DELETE', `/partners/${partner.id}/connections/sfox?mode=test`)).status).toBe(204)
    expect((await gateway.admin('DELETE', `/partners/${partner.id}/connections/sfox?mode=test`)).body.code).toBe(
      'connection_not_found',
    )
  })

  it('in production, credentials only go to an https base URL', async () => {
    const production = await startGateway({ vars: { ENVIRONMENT: 'production' }, database: gateway.database })
    try {
      const { body: partner } = await production.admin('POST', '/partners', { name: 'Prod' })
      const plain = await production.admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
        api_key: 'k',
        base_url: 'http://api.sfox.com',
      })
      expect(plain.status).toBe(422)
      expect(plain.body.errors[0]).toMatchObject({ field: 'base_url', code: 'https_required' })
      expect((await production.admin('GET', `/partners/${partner.id}/connections`)).body.data).toEqual([])
      expect(
        (
          await production.admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
            api_key: 'k',
            base_url: 'https://api.sfox.com',
          })
        ).status,
      ).toBe(200)
    } finally {
      await production.close()
    }
  })
})
