import { createConfig, lintFromString } from '@redocly/openapi-core'
import { hc } from 'hono/client'
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest'
import { type AppType, createApp } from '../../src/app'
import { PROBLEMS } from '../../src/lib/problem'
import { DOCUMENTATION_ROUTES } from '../../src/openapi'
import { CreateEndpointBody, EventResource, EventWithDeliveries } from '../../src/schemas/callbacks'
import { ProblemSchema } from '../../src/schemas/common'
import { EXAMPLES } from '../../src/schemas/examples'
import { CreateTransferBody, TransferResource } from '../../src/schemas/transfers'
import { createPartner, createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

let gateway: Gateway
let sfox: SfoxSandbox
let doc: any

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([startGateway(), startSfox()])
  doc = (await gateway.request('GET', '/openapi.json')).body
})
afterAll(async () => {
  await gateway?.close()
  await sfox?.close()
})

const lint = async (document: unknown) => {
  const config = await createConfig({
    extends: ['recommended'],
    rules: { 'no-invalid-media-type-examples': 'error', 'no-invalid-schema-examples': 'error' },
  })
  const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: 'openapi.json', config })
  return problems
    .filter((p) => p.severity === 'error')
    .map((p) => `${p.ruleId}: ${p.message} at ${p.location?.[0]?.pointer}`)
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and passes the Redocly linter (recommended rules, examples validated)', async () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(await lint(doc)).toEqual([])
  })

  it('the linter would catch a documented example that does not validate', async () => {
    const broken = structuredClone(doc)
    broken.components.schemas.Transfer.example.status = 'teleported'
    expect((await lint(broken)).some((e) => e.startsWith('no-invalid-schema-examples'))).toBe(true)
  })

  it('describes every route the app serves, and nothing it does not', () => {
    const served = new Set(
      createApp()
        // The portal's pages are HTML for people (portal.test.ts, the browser suite), not the API.
        .routes.filter(
          (r) => r.method !== 'ALL' && !DOCUMENTATION_ROUTES.includes(r.path) && !r.path.startsWith('/portal'),
        )
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    )
    const documented = new Set(
      Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m} ${path}`),
      ),
    )
    expect([...served].filter((r) => !documented.has(r))).toEqual([])
    expect([...documented].filter((r) => !served.has(r))).toEqual([])
  })

  it('documents auth, every problem code, and every callback', () => {
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual([
      'AdminToken',
      'ApiKey',
      'QiSignature',
      'WebhookSignature',
    ])
    expect(doc.components.schemas.ProblemCode.enum.sort()).toEqual(Object.keys(PROBLEMS).sort())
    expect(Object.keys(doc.webhooks).sort()).toEqual([
      'transfer.canceled',
      'transfer.completed',
      'transfer.created',
      'transfer.expired',
      'transfer.failed',
      'transfer.processing',
      'transfer.returned',
      'transfer.test',
    ])
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.operationId, `${method} ${path}`).toBeTruthy()
        const errors = Object.entries(op.responses).filter(([status]) => Number(status) >= 400)
        for (const [, response] of errors)
          expect(Object.keys((response as any).content ?? {}), `${method} ${path}`).toEqual([
            'application/problem+json',
          ])
      }
    }
  })

  it('its examples validate with the zod schemas that validate requests and responses', () => {
    expect(CreateTransferBody.safeParse(EXAMPLES.createSfox).success).toBe(true)
    expect(CreateTransferBody.safeParse(EXAMPLES.createQi).success).toBe(true)
    expect(TransferResource.safeParse(EXAMPLES.transfer).success).toBe(true)
    expect(EventResource.safeParse(EXAMPLES.event).success).toBe(true)
    expect(EventWithDeliveries.safeParse(EXAMPLES.eventWithDeliveries).success).toBe(true)
    expect(CreateEndpointBody.safeParse(EXAMPLES.createEndpoint).success).toBe(true)
    expect(ProblemSchema.safeParse(doc.components.schemas.Problem.example).success).toBe(true)
  })

  it('has an interactive reference at /docs, self-hosted under content-hashed names cached for a year', async () => {
    const res = await gateway.mf.dispatchFetch('http://gateway.test/docs')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    const csp = res.headers.get('content-security-policy')!
    expect(csp).toMatch(/script-src 'self';/)
    expect(csp).not.toMatch(/https?:\/\//)
    const html = await res.text()
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets).toHaveLength(4)
    expect(html).not.toMatch(/<script>|<script type="text\/javascript">|https?:\/\//)
    for (const path of assets) {
      expect(path).toMatch(/\.[0-9a-f]{12}\.(js|css)$/)
      const asset = await gateway.mf.dispatchFetch(`http://gateway.test${path}`)
      expect(asset.status, path).toBe(200)
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      await asset.arrayBuffer()
    }
  })
})

describe('deployment', () => {
  it('the Worker bundle (wrangler deploy --dry-run) stays under 250 KiB gzip', async () => {
    const { readFile } = await import('node:fs/promises')
    const { gzipSync } = await import('node:zlib')
    const bundle = await readFile(inject('workerScript'))
    expect(gzipSync(bundle).length / 1024).toBeLessThan(250)
  })

  it("bundles zod's English messages and none of its other locales (wrangler.toml's [alias])", async () => {
    const { readFile } = await import('node:fs/promises')
    const bundle = await readFile(inject('workerScript'), 'utf8')
    expect(bundle).toContain('Invalid input')
    // zod/v4/locales/de.js and fr.js
    expect(bundle).not.toContain('Ungültige Eingabe')
    expect(bundle).not.toContain('Entrée invalide')
  })
})

describe('a typed client for partners (Hono RPC)', () => {
  it('creates, reads and lists transfers with checked types', async () => {
    const partner = await createSfoxPartner(gateway, sfox)
    const client = hc<AppType>(gateway.url, { headers: { authorization: `Bearer ${partner.key}` } })
    const created = await client.v1.transfers.$post({ json: paymentBody('typed-1') as any })
    expect(created.status).toBe(201)
    const transfer = await created.json()
    if (!('object' in transfer)) throw new Error('expected a transfer')
    expect(transfer.status).toBe('pending_verification')
    const read = await client.v1.transfers[':transfer_id'].$get({ param: { transfer_id: 'typed-1' } })
    expect(((await read.json()) as { id: string }).id).toBe('typed-1')
    const list = await client.v1.transfers.$get({ query: { limit: '5' } })
    expect(((await list.json()) as { data: unknown[] }).data).toHaveLength(1)
  })
})

describe('rate limiting', () => {
  // Windows are fixed (10 s, restarting at each multiple): a test's burst must not straddle two, so
  // each starts while the current window has most of its time left (a condition, not a guess).
  beforeEach(async () => {
    await expect.poll(() => Date.now() % 10_000 < 4_000, { timeout: 11_000, interval: 50 }).toBe(true)
  })
  it('counts per partner in a Durable Object; over the limit it is 429 with Retry-After and RateLimit headers', async () => {
    const limited = await createSfoxPartner(gateway, sfox, { rate_limit: 5 })
    const other = await createSfoxPartner(gateway, sfox, { rate_limit: 5 })
    const answers = []
    for (let i = 0; i < 7; i++) answers.push(await limited.call('GET', '/v1/transfers'))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429, 429])
    expect(answers[0]!.headers.get('ratelimit-limit')).toBe('5')
    expect(answers[0]!.headers.get('ratelimit-remaining')).toBe('4')
    expect(answers[4]!.headers.get('ratelimit-remaining')).toBe('0')
    expect(answers[0]!.headers.get('ratelimit-policy')).toBe('5;w=10')
    const refused = answers[5]!
    expect(refused.body.code).toBe('rate_limited')
    expect(refused.headers.get('content-type')).toBe('application/problem+json')
    const retryAfter = Number(refused.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(10)
    expect(refused.headers.get('ratelimit-reset')).toBe(String(retryAfter))
    // Another partner has its own budget.
    expect((await other.call('GET', '/v1/transfers')).status).toBe(200)
  })

  it('reads run beside the count, writes wait for it: a create over the limit never reaches sFOX', async () => {
    const limited = await createSfoxPartner(gateway, sfox, { rate_limit: 2 })
    expect((await limited.call('POST', '/v1/transfers', paymentBody('rl-1'))).status).toBe(201)
    expect((await limited.call('GET', '/v1/transfers/rl-1')).status).toBe(200)
    const read = await limited.call('GET', '/v1/transfers/rl-1')
    expect(read.status).toBe(429)
    expect(read.body.code).toBe('rate_limited')
    expect(read.text).not.toContain('rl-1')
    const write = await limited.call('POST', '/v1/transfers', paymentBody('rl-2'))
    expect(write.status).toBe(429)
    expect(
      await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: limited.sfoxAccount }),
    ).toHaveLength(1)
    expect((await limited.call('GET', '/v1/transfers/rl-2')).status).toBe(429)
  })

  it('concurrent requests share one count: exactly the limit gets through', async () => {
    const partner = await createPartner(gateway, { limits: { rate_limit: 4 } })
    const answers = await Promise.all(Array.from({ length: 12 }, () => partner.call('GET', '/v1/transfers')))
    expect(answers.filter((r) => r.status === 200)).toHaveLength(4)
    expect(answers.filter((r) => r.status === 429)).toHaveLength(8)
  })

  it('a partner limit can be set and changed by an operator', async () => {
    const { body: partner } = await gateway.admin('POST', '/partners', { name: 'Big', rate_limit: 1000 })
    expect(partner.rate_limit).toBe(1000)
    expect((await gateway.admin('PATCH', `/partners/${partner.id}`, { rate_limit: null })).body.rate_limit).toBeNull()
    expect((await gateway.admin('PATCH', `/partners/${partner.id}`, { rate_limit: 0 })).status).toBe(422)
  })
})

describe('security headers and CORS', () => {
  it('every API answer carries strict security headers', async () => {
    for (const path of ['/health', '/v1/transfers', '/nope']) {
      const res = await gateway.request('GET', path)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('x-frame-options'), path).toBe('DENY')
      expect(res.headers.get('content-security-policy'), path).toContain("default-src 'none'")
      expect(res.headers.get('strict-transport-security'), path).toContain('max-age=')
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer')
    }
  })

  it('sends no CORS headers unless origins are configured', async () => {
    const res = await gateway.request('GET', '/v1/transfers', { headers: { origin: 'https://app.example.com' } })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    const preflight = await gateway.mf.dispatchFetch('http://gateway.test/v1/transfers', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    })
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('allows exactly the configured origins', async () => {
    const withCors = await startGateway({
      vars: { CORS_ALLOWED_ORIGINS: 'https://app.example.com' },
      database: gateway.database,
    })
    try {
      const preflight = await withCors.mf.dispatchFetch('http://gateway.test/v1/transfers', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
      expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization')
      const other = await withCors.mf.dispatchFetch('http://gateway.test/v1/transfers', {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
      })
      expect(other.headers.get('access-control-allow-origin')).toBeNull()
    } finally {
      await withCors.close()
    }
  })
})
