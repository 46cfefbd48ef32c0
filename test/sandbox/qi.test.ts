import { spawn } from 'node:child_process'
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto'
import { Hono } from 'hono'
import { decodeJwt, jwtVerify, SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { generateP521KeyPair, type KeyPairPem } from '../../sandbox/qi/keys'
import { type QiSandboxServer, startQiSandbox } from '../../sandbox/qi/server'
import {
  isoTimestamp,
  pythonJsonDumps,
  rfc1123,
  signRequest,
  signRequestV1,
  verifyResponse,
  verifyWebhook,
} from '../../sandbox/qi/signing'
import { type Listening, listen } from '../../sandbox/shared/serve'

// ---- fixtures: one sandbox, one webhook receiver, keys generated once ------------------------

let qi: QiSandboxServer
let partner: KeyPairPem
let stranger: KeyPairPem
let receiver: Listening
let hookUrl: string

type Received = {
  path: string
  headers: Record<string, string>
  body: string
  verdict: Awaited<ReturnType<typeof verifyWebhook>>
}
let received: Received[] = []

/** The partner integration of the current test (re-registered after every reset). */
let apiKey: string
let account: string
let otherAccount: string

const md5 = (s: string) => createHash('md5').update(s).digest('hex')

beforeAll(async () => {
  partner = generateP521KeyPair()
  stranger = generateP521KeyPair()
  qi = await startQiSandbox()
  const app = new Hono()
  app.post('*', async (c) => {
    const body = await c.req.text()
    const verdict = await verifyWebhook({
      headers: c.req.raw.headers,
      body,
      uri: c.req.path,
      qiPublicKeyPem: qi.qiPublicKeyPem,
    })
    const headers: Record<string, string> = {}
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value
    })
    received.push({ path: c.req.path, headers, body, verdict })
    return verdict.ok ? c.json({ received: true }) : c.json({ rejected: verdict.reason }, 401)
  })
  receiver = await listen(app)
  hookUrl = `${receiver.url}/hooks/qi`
})

afterAll(async () => {
  await qi?.close()
  await receiver?.close()
})

const control = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${qi.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any }
}

const register = async (extra: Record<string, unknown> = {}) => {
  const res = await control('POST', '/_sandbox/integrations', {
    public_key_pem: partner.publicKeyPem,
    ...('account_keys' in extra ? {} : { account_count: 2 }),
    webhook_url: hookUrl,
    ...extra,
  })
  expect(res.status).toBe(201)
  return res.body.data as { api_client_key: string; account_keys: string[]; qi_public_key_pem: string }
}

beforeEach(async () => {
  expect((await control('POST', '/_sandbox/reset')).status).toBe(200)
  received = []
  const integration = await register()
  apiKey = integration.api_client_key
  ;[account, otherAccount] = integration.account_keys as [string, string]
})

type Call = {
  key?: string
  apiClientKey?: string
  claims?: Record<string, string>
  headers?: Record<string, string>
}

/** A v2-signed call; `body` objects are serialized once and those exact bytes are signed and sent. */
const api = async (method: string, path: string, body?: object | string, call: Call = {}) => {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  const signed = await signRequest({
    method,
    uri: path.split('?')[0]!,
    body: text,
    privateKeyPem: call.key ?? partner.privateKeyPem,
    apiClientKey: call.apiClientKey ?? apiKey,
    claims: call.claims,
  })
  const res = await fetch(`${qi.url}${path}`, { method, headers: { ...signed, ...call.headers }, body: text })
  const raw = await res.text()
  return { status: res.status, body: JSON.parse(raw) as any, headers: res.headers, raw }
}

const tedBody = (overrides: Record<string, unknown> = {}) => ({
  request_control_key: randomUUID(),
  target_account: {
    account_branch: '0001',
    account_number: '92796',
    account_digit: '1',
    owner_document_number: '23599885000192',
    owner_name: 'Titular da Conta',
    ispb: '12345678',
    account_type: 'checking_account',
  },
  transaction_amount: 8.86,
  tfa_info: { approver_document_number: '98765432100', contact_type: 'email' },
  ...overrides,
})

const createTed = async (overrides: Record<string, unknown> = {}, acct = account) => {
  const res = await api('POST', `/account/${acct}/ted`, tedBody(overrides))
  expect(res.status).toBe(202)
  return res.body as { ted_key: string; request_control_key: string; ted_status: string }
}

const tokens = async (tedKey: string) => (await control('GET', `/_sandbox/tokens?ted_key=${tedKey}`)).body.data as any[]
const latestToken = async (tedKey: string) => (await tokens(tedKey))[0].token as string
const wrongToken = (right: string) => (right === '000000' ? '111111' : '000000')

const validate = (tedKey: string, token: unknown, acct = account) =>
  api('PUT', `/account/${acct}/ted/${tedKey}/validate_token`, token === undefined ? {} : { token })
const resend = (tedKey: string, body: object = {}) =>
  api('PATCH', `/account/${account}/ted/${tedKey}/resend_token`, body)
const getTed = (tedKey: string) => api('GET', `/account/${account}/ted/${tedKey}/outgoing`)
const settings = (patch: Record<string, unknown>) => control('POST', '/_sandbox/settings', patch)

const waitFor = async <T>(fn: () => T | undefined | Promise<T | undefined>, ms = 3_000): Promise<T> => {
  const until = Date.now() + ms
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

const hooksFor = (tedKey: string) => received.filter((r) => JSON.parse(r.body).data.ted_key === tedKey)
const hookStatuses = (tedKey: string) => hooksFor(tedKey).map((r) => JSON.parse(r.body).data.ted_status)

const expectError = (res: { status: number; body: any }, status: number, code: string) => {
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code })
  expect(Object.keys(res.body).sort()).toEqual(['code', 'description', 'extra_fields', 'title', 'translation'])
}

// ---- authentication ----------------------------------------------------------------------------

describe('authentication', () => {
  it('answers 400 GDF000003 without API-CLIENT-KEY', async () => {
    const res = await fetch(`${qi.url}/account/${account}/teds`)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      title: 'Bad Request',
      description: 'No API Client Key received',
      translation: 'Nenhuma chave de API do cliente recebida',
      code: 'GDF000003',
      extra_fields: {},
    })
  })

  it('answers 404 GDF000018 for an unknown API-CLIENT-KEY', async () => {
    const unknown = randomUUID()
    const res = await api('GET', `/account/${account}/teds`, undefined, { apiClientKey: unknown })
    expectError(res, 404, 'GDF000018')
    expect(res.body.description).toBe(`No ClientIntegration found for api_client_key: ${unknown}.`)
  })

  const path = () => `/account/${account}/ted`
  const unauth = async (res: { status: number; body: any }, reason: RegExp) => {
    expectError(res, 401, 'GDF000014')
    expect(res.body.title).toBe('QI Unauthenticated')
    expect(res.body.description).toContain('Failed while decoding the authentication token')
    expect(res.body.extra_fields.sandbox_reason).toMatch(reason)
  }

  it('answers 401 GDF000014 when AUTHORIZATION is missing or garbage', async () => {
    const missing = await fetch(`${qi.url}${path()}`, {
      method: 'POST',
      headers: { 'API-CLIENT-KEY': apiKey },
      body: '{}',
    })
    await unauth({ status: missing.status, body: await missing.json() }, /missing/)
    await unauth(await api('POST', path(), tedBody(), { headers: { AUTHORIZATION: 'not-a-jwt' } }), /not a decodable/)
    await unauth(
      await api('POST', path(), tedBody(), { headers: { AUTHORIZATION: 'Bearer a.b.c' } }),
      /not a decodable/,
    )
  })

  it('answers 401 GDF000014 for a JWT signed with another key', async () => {
    await unauth(await api('POST', path(), tedBody(), { key: stranger.privateKeyPem }), /does not verify/)
  })

  it('answers 401 GDF000014 for an alg other than ES512', async () => {
    const body = JSON.stringify(tedBody())
    const jwt = await new SignJWT({
      payload_md5: md5(body),
      timestamp: isoTimestamp(Date.now()),
      method: 'POST',
      uri: path(),
    })
      .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
      .sign(new TextEncoder().encode('a-shared-secret-that-is-long-enough-for-hs512-0123456789abcdef'))
    await unauth(await api('POST', path(), body, { headers: { AUTHORIZATION: jwt } }), /alg must be ES512/)
  })

  it('answers 401 GDF000014 when payload_md5 is not the MD5 of the exact body bytes', async () => {
    const body = tedBody()
    await unauth(
      await api('POST', path(), body, {
        claims: { payload_md5: md5(JSON.stringify({ ...body, transaction_amount: 1 })) },
      }),
      /payload_md5/,
    )
    // Same JSON, other spacing (Python json.dumps style): different bytes, so a different MD5.
    const compact = JSON.stringify(body)
    const spaced = compact.replace(/","/g, '", "').replace(/":"/g, '": "')
    await unauth(await api('POST', path(), spaced, { claims: { payload_md5: md5(compact) } }), /payload_md5/)
    // Signed as sent, the spaced form is accepted.
    expect((await api('POST', path(), spaced)).status).toBe(202)
  })

  it('answers 401 GDF000014 for a method or uri mismatch', async () => {
    await unauth(await api('POST', path(), tedBody(), { claims: { method: 'PUT' } }), /signed method PUT/)
    await unauth(
      await api('POST', path(), tedBody(), { claims: { uri: `/account/${otherAccount}/ted` } }),
      /signed uri/,
    )
    await unauth(
      await api('POST', path(), tedBody(), { claims: { uri: `https://api-auth.qitech.app${path()}` } }),
      /signed uri/,
    )
  })

  it('answers 401 GDF000014 for a stale, future or malformed timestamp', async () => {
    const at = (ms: number) => ({ timestamp: isoTimestamp(Date.now() + ms) })
    await unauth(
      await api('POST', path(), tedBody(), { claims: at(-5 * 60_000 - 5_000) }),
      /outside the accepted window/,
    )
    await unauth(
      await api('POST', path(), tedBody(), { claims: at(5 * 60_000 + 5_000) }),
      /outside the accepted window/,
    )
    await unauth(await api('POST', path(), tedBody(), { claims: { timestamp: 'yesterday' } }), /not an ISO-8601/)
    expect((await api('POST', path(), tedBody(), { claims: at(-4 * 60_000) })).status).toBe(202)
    await settings({ timestamp_tolerance_ms: 1_000 })
    await unauth(await api('POST', path(), tedBody(), { claims: at(-5_000) }), /outside the accepted window/)
  })

  it('requires the claims and accepts md5("{}") and md5("") for a bodiless GET', async () => {
    const list = `/account/${account}/teds`
    const jwt = await new SignJWT({ method: 'GET', uri: list })
      .setProtectedHeader({ alg: 'ES512', typ: 'JWT' })
      .sign(createPrivateKey(partner.privateKeyPem))
    await unauth(await api('GET', list, undefined, { headers: { AUTHORIZATION: jwt } }), /payload_md5, timestamp/)
    expect((await api('GET', list, undefined, { claims: { payload_md5: md5('{}') } })).status).toBe(200)
    expect((await api('GET', list, undefined, { claims: { payload_md5: md5('') } })).status).toBe(200)
    await unauth(await api('GET', list, undefined, { claims: { payload_md5: md5('[]') } }), /payload_md5/)
    await settings({ empty_payload_md5_of: ['{}'] })
    await unauth(await api('GET', list, undefined, { claims: { payload_md5: md5('') } }), /payload_md5/)
  })

  it('accepts md5("{}") (Python sample) and md5("") for a request without a body, whatever its method', async () => {
    const ted = await createTed()
    const path = `/account/${account}/ted/${ted.ted_key}/resend_token`
    expect((await api('PATCH', path, undefined, { claims: { payload_md5: md5('{}') } })).status).toBe(202)
    expect((await api('PATCH', path, undefined, { claims: { payload_md5: md5('') } })).status).toBe(202)
    await unauth(await api('PATCH', path, undefined, { claims: { payload_md5: md5('[]') } }), /payload_md5/)
    // With a body, only the MD5 of the bytes sent counts.
    await unauth(await api('PATCH', path, {}, { claims: { payload_md5: md5('') } }), /payload_md5/)
  })

  it("accepts a v1 POST signed with an empty content type (as QI's Node sample signs it), not another one", async () => {
    const uri = `/account/${account}/ted`
    const key = createPrivateKey(partner.privateKeyPem)
    const v1Post = async (contentType: string) => {
      const encoded = await new SignJWT(tedBody()).setProtectedHeader({ alg: 'ES512' }).sign(key)
      const signature = ['POST', md5(encoded), contentType, rfc1123(Date.now()), uri].join('\n')
      const header = await new SignJWT({ sub: apiKey, signature })
        .setProtectedHeader({ alg: 'ES512', typ: 'JWT' })
        .sign(key)
      const res = await fetch(`${qi.url}${uri}`, {
        method: 'POST',
        headers: {
          'API-CLIENT-KEY': apiKey,
          AUTHORIZATION: `QIT ${apiKey}:${header}`,
          'Content-Type': 'application/json',
        },
        body: JSON.stringify({ encoded_body: encoded }),
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    expect((await v1Post('')).status).toBe(202)
    expect((await v1Post('application/json')).status).toBe(202)
    await unauth(await v1Post('text/plain'), /content type/)
  })

  it('signs the path without the query string by default (signed_uri_query)', async () => {
    const list = `/account/${account}/teds?page=1&page_size=5`
    expect((await api('GET', list)).status).toBe(200)
    await unauth(await api('GET', list, undefined, { claims: { uri: list } }), /signed uri/)
    await settings({ signed_uri_query: 'included' })
    expect((await api('GET', list, undefined, { claims: { uri: list } })).status).toBe(200)
    await unauth(await api('GET', list), /signed uri/)
    await settings({ signed_uri_query: 'either' })
    expect((await api('GET', list)).status).toBe(200)
    expect((await api('GET', list, undefined, { claims: { uri: list } })).status).toBe(200)
  })

  it('accepts v1 legacy requests (QIT header + encoded_body) and refuses forged ones', async () => {
    const uri = `/account/${account}/ted`
    const payload = tedBody()
    const v1 = await signRequestV1({
      method: 'POST',
      uri,
      payload,
      privateKeyPem: partner.privateKeyPem,
      apiClientKey: apiKey,
    })
    expect(v1.headers.AUTHORIZATION).toMatch(new RegExp(`^QIT ${apiKey}:`))
    expect(Object.keys(JSON.parse(v1.body!))).toEqual(['encoded_body'])
    const created = await fetch(`${qi.url}${uri}`, { method: 'POST', headers: v1.headers, body: v1.body })
    expect(created.status).toBe(202)
    const ted = (await created.json()) as any
    expect(ted).toMatchObject({ request_control_key: payload.request_control_key, ted_status: 'pending_2fa_approval' })

    const getUri = `/account/${account}/ted/${ted.ted_key}/outgoing`
    const get = await signRequestV1({
      method: 'GET',
      uri: getUri,
      privateKeyPem: partner.privateKeyPem,
      apiClientKey: apiKey,
    })
    const got = await fetch(`${qi.url}${getUri}`, { headers: get.headers })
    expect(got.status).toBe(200)
    expect(((await got.json()) as any).ted_key).toBe(ted.ted_key)

    // encoded_body replaced by another validly signed one: the md5 in the header no longer matches.
    const other = await signRequestV1({
      method: 'POST',
      uri,
      payload: tedBody(),
      privateKeyPem: partner.privateKeyPem,
      apiClientKey: apiKey,
    })
    const swapped = await fetch(`${qi.url}${uri}`, { method: 'POST', headers: v1.headers, body: other.body })
    expect(swapped.status).toBe(401)
    expect(((await swapped.json()) as any).extra_fields.sandbox_reason).toMatch(/md5/)
    // encoded_body signed by a stranger.
    const forged = await signRequestV1({
      method: 'POST',
      uri,
      payload: tedBody(),
      privateKeyPem: stranger.privateKeyPem,
      apiClientKey: apiKey,
    })
    expect(
      (await fetch(`${qi.url}${uri}`, { method: 'POST', headers: forged.headers, body: forged.body })).status,
    ).toBe(401)
    // api key in the QIT header differs from API-CLIENT-KEY.
    const mismatch = await fetch(`${qi.url}${uri}`, {
      method: 'POST',
      headers: { ...v1.headers, 'API-CLIENT-KEY': (await register({ account_count: 0 })).api_client_key },
      body: v1.body,
    })
    expect(((await mismatch.json()) as any).extra_fields.sandbox_reason).toMatch(/does not match API-CLIENT-KEY/)
  })
})

// ---- create -------------------------------------------------------------------------------------

describe('POST /account/{ak}/ted', () => {
  it('creates a pending_2fa_approval TED (202) and sends a 6-digit token valid 5 minutes', async () => {
    const body = tedBody()
    const res = await api('POST', `/account/${account}/ted`, body)
    expect(res.status).toBe(202)
    expect(Object.keys(res.body)).toEqual([
      'request_control_key',
      'ted_key',
      'transaction_amount',
      'fee_amount',
      'ted_status',
      'created_at',
    ])
    expect(res.body).toMatchObject({
      request_control_key: body.request_control_key,
      transaction_amount: 8.86,
      fee_amount: 0,
      ted_status: 'pending_2fa_approval',
    })
    expect(res.body.ted_key).toMatch(/^[0-9a-f-]{36}$/)
    const [token, ...older] = await tokens(res.body.ted_key)
    expect(older).toEqual([])
    expect(token).toMatchObject({ ted_key: res.body.ted_key, contact_type: 'email', reason: 'created' })
    expect(token.token).toMatch(/^\d{6}$/)
    expect(Date.parse(token.expires_at) - Date.parse(token.sent_at)).toBe(300_000)
    expect(received).toEqual([]) // no webhook for pending_2fa_approval
  })

  it('uses create_http_status, fee_amount and token settings', async () => {
    await settings({ create_http_status: 201, fee_amount: 10, fixed_token: '329329' })
    const res = await api('POST', `/account/${account}/ted`, tedBody())
    expect(res.status).toBe(201)
    expect(res.body.fee_amount).toBe(10)
    expect(await latestToken(res.body.ted_key)).toBe('329329')
    await settings({ fixed_token: null, token_alphabet: 'AB' })
    const other = await api('POST', `/account/${account}/ted`, tedBody())
    expect(await latestToken(other.body.ted_key)).toMatch(/^[AB]{6}$/)
  })

  it('answers 400 QIT000001 naming the failing fields', async () => {
    const body = tedBody({ transaction_amount: 1.234 }) as any
    delete body.tfa_info
    body.target_account.ispb = '123'
    body.target_account.account_type = 'current_account'
    const res = await api('POST', `/account/${account}/ted`, body)
    expectError(res, 400, 'QIT000001')
    expect(res.body.title).toBe('Bad Request')
    expect(Object.keys(res.body.extra_fields.errors).sort()).toEqual([
      'target_account.account_type',
      'target_account.ispb',
      'tfa_info',
      'transaction_amount',
    ])
    expect(res.body.extra_fields.errors.tfa_info).toEqual(['Missing data for required field.'])
    expect(res.body.extra_fields.errors['target_account.ispb']).toEqual(['Must be 8 digits.'])
    // Page 004 (source-docs): QIT000001 | Bad Request | Schema Error | Erro de Schema; details only in extra_fields.
    expect(res.body).toMatchObject({ title: 'Bad Request', description: 'Schema Error', translation: 'Erro de Schema' })

    const notJson = await api('POST', `/account/${account}/ted`, '{"request_control_key":')
    expectError(notJson, 400, 'QIT000001')
    expectError(
      await api(
        'POST',
        `/account/${account}/ted`,
        tedBody({ tfa_info: { approver_document_number: '98765432100', contact_type: 'device' } }),
      ),
      400,
      'QIT000001',
    )
  })

  it('refuses a request_control_key that is not a uuid4 (TED000046, or QIT000001 by setting)', async () => {
    const res = await api('POST', `/account/${account}/ted`, tedBody({ request_control_key: 'order-1' }))
    expectError(res, 400, 'TED000046')
    expect(res.body.title).toBe('Invalid uuid v4 string sent')
    await settings({ invalid_uuid_code: 'QIT000001' })
    const v1uuid = '6ba7b810-9dad-11d1-80b4-00c04fd430c8'
    const schema = await api('POST', `/account/${account}/ted`, tedBody({ request_control_key: v1uuid }))
    expectError(schema, 400, 'QIT000001')
    expect(schema.body.extra_fields.errors).toEqual({ request_control_key: ['Not a valid UUID v4.'] })
  })

  it("answers 404 TED000009 for an unknown account and 403 TED000018 for another integration's account", async () => {
    const missing = randomUUID()
    const notFound = await api('POST', `/account/${missing}/ted`, tedBody())
    expectError(notFound, 404, 'TED000009')
    expect(notFound.body.description).toBe(`Account not found for the given key: ${missing}`)

    const foreign = await register({ public_key_pem: stranger.publicKeyPem, account_count: 1 })
    const forbidden = await api('POST', `/account/${foreign.account_keys[0]}/ted`, tedBody())
    expectError(forbidden, 403, 'TED000018')
    expect(forbidden.body.title).toBe('Unauthorized')
  })

  it('answers 409 for a reused request_control_key, or the existing TED with return_existing', async () => {
    const body = tedBody()
    const first = await api('POST', `/account/${account}/ted`, body)
    const again = await api('POST', `/account/${account}/ted`, body)
    expectError(again, 409, 'QIT000409')
    expect(again.body.description).toContain(body.request_control_key)

    await settings({ duplicate_request_control_key: 'return_existing' })
    const existing = await api('POST', `/account/${account}/ted`, { ...body, transaction_amount: 99 })
    expect(existing.status).toBe(202)
    expect(existing.body).toEqual(first.body)
    expect(qi.state.teds.size).toBe(1)
    expect(await tokens(first.body.ted_key)).toHaveLength(1)
  })

  it('checks the TED window only when ted_window_check is on (TED000011)', async () => {
    const now = new Date()
    const today = now.getUTCDay()
    await settings({
      ted_window_check: true,
      ted_window: { weekdays: [(today + 1) % 7], start: '00:00', end: '23:59', utc_offset_minutes: 0 },
    })
    expectError(await api('POST', `/account/${account}/ted`, tedBody()), 400, 'TED000011')
    await settings({
      ted_window: { weekdays: [0, 1, 2, 3, 4, 5, 6], start: '00:00', end: '23:59', utc_offset_minutes: 0 },
    })
    // A minute before midnight UTC the window above is closed; avoid a flaky run.
    if (now.getUTCHours() === 23 && now.getUTCMinutes() >= 58) return
    expect((await api('POST', `/account/${account}/ted`, tedBody())).status).toBe(202)
  })

  it('debits a limited balance, refuses beyond it and credits back a returned TED', async () => {
    const acct = randomUUID()
    const added = await control('POST', '/_sandbox/integrations', {
      public_key_pem: partner.publicKeyPem,
      api_client_key: apiKey,
      account_keys: [acct],
      balance: 100,
    })
    expect(added.status).toBe(200) // an update of the test's integration
    expect(added.body.data.account_keys).toEqual([account, otherAccount, acct])
    await settings({ fee_amount: 1 })
    const ted = await createTed({ transaction_amount: 50 }, acct)
    const balance = async () =>
      ((await control('GET', '/_sandbox/integrations')).body.data as any[])
        .flatMap((i) => i.accounts)
        .find((a) => a.account_key === acct).balance
    expect(await balance()).toBe(49)
    const poor = await api('POST', `/account/${acct}/ted`, tedBody({ transaction_amount: 48.01 }))
    expectError(poor, 400, 'TED000014')
    expect(poor.body.translation).toContain('Saldo insuficiente')
    await control('POST', `/_sandbox/teds/${ted.ted_key}/status`, { ted_status: 'returned' })
    expect(await balance()).toBe(100)
  })
})

// ---- validate / resend --------------------------------------------------------------------------

describe('2FA: validate_token and resend_token', () => {
  it('approves with the right token: 201 sent with transaction_key, then a sent webhook', async () => {
    const ted = await createTed()
    const res = await validate(ted.ted_key, await latestToken(ted.ted_key))
    expect(res.status).toBe(201)
    expect(Object.keys(res.body)).toEqual([
      'request_control_key',
      'transaction_key',
      'ted_key',
      'transaction_amount',
      'fee_amount',
      'ted_status',
      'created_at',
    ])
    expect(res.body).toMatchObject({ ted_key: ted.ted_key, ted_status: 'sent' })
    expect(res.body.transaction_key).toMatch(/^[0-9a-f-]{36}$/)
    expect((await getTed(ted.ted_key)).body.ted_status).toBe('sent')
    await waitFor(() => (hookStatuses(ted.ted_key).length ? true : undefined))
    expect(hookStatuses(ted.ted_key)).toEqual(['sent'])
  })

  it('approval_outcome "pending": 202 pending, then sent after settle_delay_ms with webhooks for both', async () => {
    await settings({ approval_outcome: 'pending', settle_delay_ms: 100 })
    const ted = await createTed()
    const res = await validate(ted.ted_key, await latestToken(ted.ted_key))
    expect(res.status).toBe(202)
    expect(res.body).toMatchObject({ ted_key: ted.ted_key, ted_status: 'pending' })
    expect(res.body).not.toHaveProperty('transaction_key')
    expect((await getTed(ted.ted_key)).body.ted_status).toBe('pending')
    await waitFor(() => (hookStatuses(ted.ted_key).length === 2 ? true : undefined))
    expect(hookStatuses(ted.ted_key)).toEqual(['pending', 'sent'])
    expect((await getTed(ted.ted_key)).body.ted_status).toBe('sent')
  })

  it('approves a device TED with an empty body and sends no token', async () => {
    const ted = await createTed({
      tfa_info: { approver_document_number: '98765432100', contact_type: 'device', session_id: randomUUID() },
    })
    expect(await tokens(ted.ted_key)).toEqual([])
    expectError(await resend(ted.ted_key), 400, 'QIT000001')
    expect((await validate(ted.ted_key, undefined)).status).toBe(201)
  })

  it('answers 400 TED000084 for a wrong token, with empty extra_fields', async () => {
    const ted = await createTed()
    const res = await validate(ted.ted_key, wrongToken(await latestToken(ted.ted_key)))
    expectError(res, 400, 'TED000084')
    expect(res.body).toMatchObject({ title: 'Incorrect Token', extra_fields: {} })
    expect((await control('GET', `/_sandbox/teds/${ted.ted_key}`)).body.data.tfa.attempts).toBe(1)
  })

  it('counts 5 failed attempts across resends, then rejects (TED000082 + ted_data) and sends a rejected webhook', async () => {
    const ted = await createTed()
    const wrong = async () => validate(ted.ted_key, wrongToken(await latestToken(ted.ted_key)))
    expectError(await wrong(), 400, 'TED000084')
    expectError(await wrong(), 400, 'TED000084')
    expect((await resend(ted.ted_key)).status).toBe(202)
    expectError(await wrong(), 400, 'TED000084')
    expectError(await wrong(), 400, 'TED000084')
    const resent = await resend(ted.ted_key, { contact_type: 'sms' })
    expect(resent.status).toBe(202)
    expect(resent.body).toMatchObject({ ted_key: ted.ted_key, ted_status: 'pending_2fa_approval' })

    const fifth = await wrong()
    expectError(fifth, 400, 'TED000082')
    expect(fifth.body.title).toBe('Number of token validation attempts exceeded')
    expect(fifth.body.extra_fields.ted_data).toEqual({
      request_control_key: ted.request_control_key,
      ted_key: ted.ted_key,
      transaction_amount: 8.86,
      fee_amount: 0,
      ted_status: 'rejected',
      created_at: expect.any(String),
    })
    await waitFor(() => (hookStatuses(ted.ted_key).length ? true : undefined))
    expect(hookStatuses(ted.ted_key)).toEqual(['rejected'])

    // Even the right token is refused now, and no more resends.
    const afterwards = await validate(ted.ted_key, await latestToken(ted.ted_key))
    expectError(afterwards, 400, 'TED000082')
    expect(afterwards.body.extra_fields.ted_data.ted_status).toBe('rejected')
    expectError(await resend(ted.ted_key), 400, 'TED000082')
    expect((await getTed(ted.ted_key)).body.ted_status).toBe('rejected')
    expect((await tokens(ted.ted_key)).map((t) => t.reason)).toEqual(['resend', 'resend', 'created'])
  })

  it('can answer the last wrong try with TED000084 (final_attempt_code) while still rejecting', async () => {
    await settings({ final_attempt_code: 'TED000084', max_attempts: 2 })
    const ted = await createTed()
    const token = wrongToken(await latestToken(ted.ted_key))
    expectError(await validate(ted.ted_key, token), 400, 'TED000084')
    const last = await validate(ted.ted_key, token)
    expectError(last, 400, 'TED000084')
    expect(last.body.extra_fields.ted_data.ted_status).toBe('rejected')
  })

  it('expires a token after 5 minutes of sandbox time (TED000083) without using an attempt; a resend revives it', async () => {
    const ted = await createTed()
    const token = await latestToken(ted.ted_key)
    await control('POST', '/_sandbox/clock', { advance_ms: 299_000 })
    expectError(await validate(ted.ted_key, wrongToken(token)), 400, 'TED000084')
    await control('POST', '/_sandbox/clock', { advance_ms: 1_000 })
    const expired = await validate(ted.ted_key, token)
    expectError(expired, 400, 'TED000083')
    expect(expired.body.title).toBe('Token Expired')
    expect((await control('GET', `/_sandbox/teds/${ted.ted_key}`)).body.data.tfa.attempts).toBe(1)

    expect((await resend(ted.ted_key)).status).toBe(202)
    expect((await validate(ted.ted_key, await latestToken(ted.ted_key))).status).toBe(201)
  })

  it('counts an expired try as an attempt with expired_counts_as_attempt', async () => {
    await settings({ expired_counts_as_attempt: true })
    const ted = await createTed()
    await control('POST', '/_sandbox/clock', { advance_ms: 300_000 })
    expectError(await validate(ted.ted_key, await latestToken(ted.ted_key)), 400, 'TED000083')
    expect((await control('GET', `/_sandbox/teds/${ted.ted_key}`)).body.data.tfa.attempts).toBe(1)
  })

  it('invalidates the old token on resend and keeps the original channel when contact_type is omitted', async () => {
    const ted = await createTed()
    const old = await latestToken(ted.ted_key)
    await settings({ token_alphabet: 'X' }) // the new token cannot equal the old digits
    expect((await resend(ted.ted_key)).status).toBe(202)
    const [fresh] = await tokens(ted.ted_key)
    expect(fresh).toMatchObject({ token: 'XXXXXX', contact_type: 'email', reason: 'resend' })
    expectError(await validate(ted.ted_key, old), 400, 'TED000084')
    expect((await resend(ted.ted_key, { contact_type: 'sms' })).status).toBe(202)
    expect((await tokens(ted.ted_key))[0].contact_type).toBe('sms')
    expectError(await resend(ted.ted_key, { contact_type: 'pigeon' }), 400, 'QIT000001')
    expect((await validate(ted.ted_key, 'XXXXXX')).status).toBe(201)
  })

  it('answers TED000086 (404, or 400 by setting) once the TED left pending_2fa_approval', async () => {
    const ted = await createTed()
    const token = await latestToken(ted.ted_key)
    expect((await validate(ted.ted_key, token)).status).toBe(201)
    const again = await validate(ted.ted_key, token)
    expectError(again, 404, 'TED000086')
    expect(again.body.title).toBe('Invalid Status')
    expectError(await resend(ted.ted_key), 404, 'TED000086')
    await settings({ invalid_status_http: 400 })
    expectError(await resend(ted.ted_key), 400, 'TED000086')
  })

  it('validates the token schema without using an attempt, and 404s unknown or foreign TEDs', async () => {
    const ted = await createTed()
    expectError(await validate(ted.ted_key, undefined), 400, 'QIT000001')
    expectError(await validate(ted.ted_key, '12345'), 400, 'QIT000001')
    expectError(await validate(ted.ted_key, 123456), 400, 'QIT000001')
    expect((await control('GET', `/_sandbox/teds/${ted.ted_key}`)).body.data.tfa.attempts).toBe(0)
    expectError(await validate(randomUUID(), '123456'), 404, 'TED000020')
    expectError(await validate(ted.ted_key, '123456', otherAccount), 404, 'TED000020')
    expectError(await resend(randomUUID()), 404, 'TED000020')
  })

  it("answers with page 004's exact texts (TED000009, TED000020, TED000086, QIT000001)", async () => {
    const ted = await createTed()
    const missingAccount = randomUUID()
    const noAccount = await api('PATCH', `/account/${missingAccount}/ted/${ted.ted_key}/resend_token`, {})
    expectError(noAccount, 404, 'TED000009')
    expect(noAccount.body).toMatchObject({
      title: 'Account not found',
      description: `Account not found for the given key: ${missingAccount}`,
      translation: `Conta não encontrada para a chave fornecida: ${missingAccount}`,
    })
    const noTed = await resend(randomUUID())
    expectError(noTed, 404, 'TED000020')
    expect(noTed.body).toMatchObject({
      title: 'Not Found',
      description: 'Ted was not found for the given parameters.',
      translation: 'Ted não encontrada para os parâmetros fornecidos.',
    })
    await validate(ted.ted_key, await latestToken(ted.ted_key))
    const notPending = await resend(ted.ted_key)
    expectError(notPending, 404, 'TED000086')
    expect(notPending.body).toMatchObject({
      title: 'Invalid Status',
      description: 'Ted not in pending_2fa_approval status',
      translation: 'Ted não está pendente de aprovação por autenticação de dois fatores',
    })
    const schema = await resend(ted.ted_key, { contact_type: 'pigeon' })
    expectError(schema, 400, 'QIT000001')
    expect(schema.body).toMatchObject({
      title: 'Bad Request',
      description: 'Schema Error',
      translation: 'Erro de Schema',
    })
  })

  it('answers QIT000001 (not TED000020) to a resend whose ted_key is not a UUID', async () => {
    const res = await resend('not-a-ted-key')
    expectError(res, 400, 'QIT000001')
    expect(res.body.extra_fields.errors).toEqual({ ted_key: ['Not a valid UUID.'] })
    expectError(await resend(`${randomUUID()}0`), 400, 'QIT000001')
    expectError(await resend(randomUUID()), 404, 'TED000020')
  })

  it('fails resends with 400 TED000087 under resend_token_error, leaving the TED and its token as they were', async () => {
    const ted = await createTed()
    const token = await latestToken(ted.ted_key)
    await settings({ resend_token_error: true })
    const res = await resend(ted.ted_key, { contact_type: 'sms' })
    expectError(res, 400, 'TED000087')
    expect(res.body).toEqual({
      title: 'Error Sending Token',
      description: 'An error occurred while resending token and its being investigated',
      translation: 'Um erro ocorreu ao reenviar token e está sendo investigado',
      code: 'TED000087',
      extra_fields: { ted_data: expect.objectContaining({ ted_key: ted.ted_key, ted_status: 'pending_2fa_approval' }) },
    })
    expect(await tokens(ted.ted_key)).toHaveLength(1)
    expect((await control('GET', `/_sandbox/teds/${ted.ted_key}`)).body.data.tfa.contact_type).toBe('email')
    await settings({ resend_token_error: false })
    expect((await resend(ted.ted_key)).status).toBe(202)
    expect(await tokens(ted.ted_key)).toHaveLength(2)
    // Until then the first token stayed the valid one.
    if ((await latestToken(ted.ted_key)) !== token) expectError(await validate(ted.ted_key, token), 400, 'TED000084')
  })

  it('rejects an abandoned TED when abandoned_after_ms is set', async () => {
    await settings({ abandoned_after_ms: 60_000 })
    const ted = await createTed()
    await control('POST', '/_sandbox/clock', { advance_ms: 60_000 })
    expect((await getTed(ted.ted_key)).body.ted_status).toBe('rejected')
    expectError(await validate(ted.ted_key, await latestToken(ted.ted_key)), 404, 'TED000086')
    await waitFor(() => (hookStatuses(ted.ted_key).length ? true : undefined))
    expect(hookStatuses(ted.ted_key)).toEqual(['rejected'])
  })
})

// ---- GET one / list -----------------------------------------------------------------------------

describe('GET TEDs', () => {
  it('returns one outgoing TED with refusal_reason {} (TED000020 otherwise)', async () => {
    const ted = await createTed()
    const res = await getTed(ted.ted_key)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      request_control_key: ted.request_control_key,
      ted_key: ted.ted_key,
      account_key: account,
      created_at: expect.any(String),
      ted_status: 'pending_2fa_approval',
      transaction_amount: 8.86,
      fee_amount: 0,
      target_account: {
        account_branch: '0001',
        account_digit: '1',
        account_number: '92796',
        ispb: '12345678',
        owner_document_number: '23599885000192',
        owner_name: 'Titular da Conta',
      },
      refusal_reason: {},
    })
    expectError(await api('GET', `/account/${account}/ted/${ted.ted_key}/incoming`), 404, 'TED000020')
    expectError(await api('GET', `/account/${account}/ted/${randomUUID()}/outgoing`), 404, 'TED000020')
    expectError(await api('GET', `/account/${otherAccount}/ted/${ted.ted_key}/outgoing`), 404, 'TED000020')
    expectError(await api('GET', `/account/${randomUUID()}/ted/${ted.ted_key}/outgoing`), 404, 'TED000009')
  })

  it('lists by request_control_key, dates and pages (page_size max 30)', async () => {
    const teds = [await createTed(), await createTed(), await createTed()]
    await createTed({}, otherAccount)
    const list = (query: string) => api('GET', `/account/${account}/teds${query}`)

    const byKey = await list(`?request_control_key=${teds[1]!.request_control_key}`)
    expect(byKey.status).toBe(200)
    expect(byKey.body.data.map((t: any) => t.ted_key)).toEqual([teds[1]!.ted_key])
    expect(byKey.body.pagination).toEqual({ current_page: 1, rows_per_page: 30 })

    const all = await list('')
    expect(all.body.data.map((t: any) => t.ted_key)).toEqual(teds.map((t) => t.ted_key).reverse())
    const page2 = await list('?page=2&page_size=2')
    expect(page2.body).toEqual({
      data: [expect.objectContaining({ ted_key: teds[0]!.ted_key })],
      pagination: { current_page: 2, rows_per_page: 2 },
    })

    const today = new Date().toISOString().slice(0, 10)
    expect((await list(`?date_from=${today}&date_to=${today}`)).body.data).toHaveLength(3)
    expect((await list('?date_from=2999-01-01')).body.data).toEqual([])
    expect((await list('?ted_direction=incoming')).body.data).toEqual([])

    expectError(await list('?page_size=31'), 400, 'TED000045')
    expectError(await list('?page=0'), 400, 'TED000045')
    expectError(await list('?date_from=01-02-2024'), 400, 'TED000044')
    expectError(await list('?request_control_key=nope'), 400, 'TED000046')
    expectError(await list('?ted_direction=sideways'), 400, 'QIT000001')
    const foreign = await register({ public_key_pem: stranger.publicKeyPem, account_count: 1 })
    expectError(await api('GET', `/account/${foreign.account_keys[0]}/teds`), 403, 'TED000018')
  })
})

// ---- response signing ---------------------------------------------------------------------------

describe('response signing', () => {
  it('"header" (default): AUTHORIZATION is a QI-signed JWT over the exact body, API-CLIENT-KEY echoes the key', async () => {
    const uri = `/account/${account}/ted`
    const res = await api('POST', uri, tedBody())
    const { payload } = await jwtVerify(res.headers.get('authorization')!, createPublicKey(qi.qiPublicKeyPem), {
      algorithms: ['ES512'],
    })
    expect(payload).toEqual({ payload_md5: md5(res.raw), timestamp: expect.any(String), method: 'POST', uri })
    expect(Math.abs(Date.parse(payload.timestamp as string) - Date.now())).toBeLessThan(5_000)
    expect(res.headers.get('api-client-key')).toBe(apiKey)
    const verified = await verifyResponse({
      method: 'POST',
      uri,
      headers: res.headers,
      body: res.raw,
      qiPublicKeyPem: qi.qiPublicKeyPem,
      apiClientKey: apiKey,
    })
    expect(verified).toEqual({ ok: true, mode: 'header', payload: res.body })
    // Errors are signed too; and a changed body no longer verifies.
    const error = await api('GET', `/account/${account}/ted/${randomUUID()}/outgoing`)
    expect(decodeJwt(error.headers.get('authorization')!).payload_md5).toBe(md5(error.raw))
    const tampered = await verifyResponse({
      method: 'POST',
      uri,
      headers: res.headers,
      body: res.raw.replace('8.86', '9.86'),
      qiPublicKeyPem: qi.qiPublicKeyPem,
      apiClientKey: apiKey,
    })
    expect(tampered).toEqual({ ok: false, reason: 'payload_md5 does not match the MD5 of the body' })
  })

  it('signs the answer over the path alone by default; with answer_signed_uri "path_and_query" over the query too', async () => {
    const path = `/account/${account}/teds`
    const list = `${path}?page=1&page_size=5`
    const signedUri = async () => decodeJwt((await api('GET', list)).headers.get('authorization')!).uri
    expect(await signedUri()).toBe(path)
    await settings({ answer_signed_uri: 'path_and_query' })
    expect(await signedUri()).toBe(list)
    // The v1 form signs the same endpoint line.
    await settings({ response_signing: 'encoded_body' })
    const res = await api('GET', list)
    const headerJwt = /^QIT [^:]+:(.+)$/.exec(res.headers.get('authorization')!)![1]!
    expect((decodeJwt(headerJwt).signature as string).split('\n')[4]).toBe(list)
    // Independent of what QI wants from the client: the request above was signed over the path alone.
    expect(res.status).toBe(200)
  })

  it('"encoded_body": the v1 form, body {"encoded_body": jwt} and a QIT header', async () => {
    await settings({ response_signing: 'encoded_body' })
    const uri = `/account/${account}/ted`
    const res = await api('POST', uri, tedBody())
    expect(res.status).toBe(202)
    expect(Object.keys(res.body)).toEqual(['encoded_body'])
    const claims = decodeJwt(res.body.encoded_body)
    expect(claims.ted_status).toBe('pending_2fa_approval')
    const [, key, headerJwt] = /^QIT ([^:]+):(.+)$/.exec(res.headers.get('authorization')!)!
    expect(key).toBe(apiKey)
    const { payload } = await jwtVerify(headerJwt!, createPublicKey(qi.qiPublicKeyPem), { algorithms: ['ES512'] })
    expect(payload.sub).toBe(apiKey)
    const [method, bodyMd5, contentType, date, endpoint] = (payload.signature as string).split('\n')
    expect({ method, bodyMd5, contentType, endpoint }).toEqual({
      method: 'POST',
      bodyMd5: md5(res.body.encoded_body),
      contentType: 'application/json',
      endpoint: uri,
    })
    expect(date).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/)
    const verified = await verifyResponse({
      method: 'POST',
      uri,
      headers: res.headers,
      body: res.raw,
      qiPublicKeyPem: qi.qiPublicKeyPem,
      apiClientKey: apiKey,
    })
    expect(verified).toMatchObject({ ok: true, mode: 'encoded_body', payload: { ted_status: 'pending_2fa_approval' } })

    const error = await api('GET', `/account/${account}/ted/${randomUUID()}/outgoing`)
    expect(error.status).toBe(404)
    expect(decodeJwt(error.body.encoded_body).code).toBe('TED000020')
  })

  it('"none" leaves responses unsigned; "by_scheme" answers v1 requests in the v1 form', async () => {
    await settings({ response_signing: 'none' })
    const plain = await api('GET', `/account/${account}/teds`)
    expect(plain.headers.get('authorization')).toBeNull()
    expect(plain.body.data).toEqual([])

    await settings({ response_signing: 'by_scheme' })
    const v2 = await api('GET', `/account/${account}/teds`)
    expect(v2.headers.get('authorization')).not.toMatch(/^QIT /)
    const uri = `/account/${account}/teds`
    const v1 = await signRequestV1({ method: 'GET', uri, privateKeyPem: partner.privateKeyPem, apiClientKey: apiKey })
    const res = await fetch(`${qi.url}${uri}`, { headers: v1.headers })
    const raw = await res.text()
    const verified = await verifyResponse({
      method: 'GET',
      uri,
      headers: res.headers,
      body: raw,
      qiPublicKeyPem: qi.qiPublicKeyPem,
      apiClientKey: apiKey,
    })
    expect(verified).toMatchObject({ ok: true, mode: 'encoded_body', payload: { data: [] } })
  })
})

// ---- webhooks -----------------------------------------------------------------------------------

describe('webhooks', () => {
  it('POSTs baas.ted.outgoing_ted signed by QI: claims {payload_md5, timestamp, method, uri} + API-CLIENT-KEY', async () => {
    const ted = await createTed()
    await validate(ted.ted_key, await latestToken(ted.ted_key))
    const hook = await waitFor(() => hooksFor(ted.ted_key)[0])
    expect(hook.path).toBe('/hooks/qi')
    expect(hook.headers['api-client-key']).toBe(apiKey)
    expect(hook.headers['content-type']).toBe('application/json')
    // Verified independently of the sandbox's helpers.
    const { payload, protectedHeader } = await jwtVerify(
      hook.headers.authorization!,
      createPublicKey(qi.qiPublicKeyPem),
      { algorithms: ['ES512'] },
    )
    expect(protectedHeader).toEqual({ alg: 'ES512', typ: 'JWT' })
    expect(payload).toEqual({
      payload_md5: md5(hook.body),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      method: 'POST',
      uri: '/hooks/qi',
    })
    expect(Math.abs(Date.parse(payload.timestamp as string) - Date.now())).toBeLessThan(5_000)
    expect(hook.verdict.ok).toBe(true)
    const body = JSON.parse(hook.body)
    expect(body).toEqual({
      webhook_type: 'baas.ted.outgoing_ted',
      webhook_datetime: expect.any(String),
      data: {
        request_control_key: ted.request_control_key,
        ted_key: ted.ted_key,
        account_key: account,
        created_at: expect.any(String),
        ted_status: 'sent',
        transaction_amount: 8.86,
        fee_amount: 0,
        target_account: expect.objectContaining({ ispb: '12345678', owner_name: 'Titular da Conta' }),
        refusal_reason: {},
      },
    })
    const records = await waitFor(async () => {
      const data = (await control('GET', `/_sandbox/webhooks?ted_key=${ted.ted_key}`)).body.data
      return data[0]?.status ? data : undefined
    })
    expect(records).toEqual([
      expect.objectContaining({
        ted_status: 'sent',
        url: hookUrl,
        status: 200,
        error: null,
        body: hook.body,
        tamper: null,
      }),
    ])
  })

  it('forces "returned" after "sent" with a realistic refusal_reason (and custom ones)', async () => {
    const ted = await createTed()
    await validate(ted.ted_key, await latestToken(ted.ted_key))
    const forced = await control('POST', `/_sandbox/teds/${ted.ted_key}/status`, { ted_status: 'returned' })
    expect(forced.status).toBe(200)
    expect(forced.body.data.webhook).toMatchObject({ status: 200, error: null })
    const refusal = {
      refusal_code: 1,
      enumerator: 'conta_destinatario_encerrada',
      description: 'Conta Destinatária do Crédito Encerrada',
    }
    expect((await getTed(ted.ted_key)).body).toMatchObject({ ted_status: 'returned', refusal_reason: refusal })
    await waitFor(() => (hookStatuses(ted.ted_key).length === 2 ? true : undefined))
    const returned = hooksFor(ted.ted_key)
      .map((h) => JSON.parse(h.body).data)
      .find((d) => d.ted_status === 'returned')
    expect(returned.refusal_reason).toEqual(refusal)

    const custom = { refusal_code: 2, enumerator: 'conta_inexistente', description: 'Conta inexistente' }
    await control('POST', `/_sandbox/teds/${ted.ted_key}/status`, { ted_status: 'rejected', refusal_reason: custom })
    expect((await getTed(ted.ted_key)).body.refusal_reason).toEqual(custom)
    expect((await control('POST', `/_sandbox/teds/${ted.ted_key}/status`, { ted_status: 'cancelled' })).status).toBe(
      400,
    )
  })

  it.each([
    ['signature', /does not verify/],
    ['payload_md5', /payload_md5/],
    ['stale_timestamp', /outside the accepted window/],
    ['wrong_uri', /signed uri/],
  ])('sends a verifiably bad webhook with tamper "%s"', async (tamper, reason) => {
    const ted = await createTed()
    const sent = await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key, ted_status: 'sent', tamper })
    expect(sent.status).toBe(200)
    expect(sent.body.data).toMatchObject({ status: 401, body: { rejected: expect.stringMatching(reason) } })
    const hook = hooksFor(ted.ted_key)[0]!
    expect(hook.verdict).toEqual({ ok: false, reason: expect.stringMatching(reason) })
    expect(JSON.parse(hook.body).data.ted_status).toBe('sent')
    expect((await getTed(ted.ted_key)).body.ted_status).toBe('pending_2fa_approval') // state untouched
  })

  it("sends an untampered webhook on demand and returns the receiver's answer", async () => {
    const ted = await createTed()
    const sent = await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key })
    expect(sent.body.data).toMatchObject({ status: 200, body: { received: true }, error: null })
    expect(JSON.parse(hooksFor(ted.ted_key)[0]!.body).data.ted_status).toBe('pending_2fa_approval')
  })

  it('webhook_md5_form "json_dumps": payload_md5 is the MD5 of Python\'s json.dumps(parsed body), not of the bytes', async () => {
    const ted = await createTed({ target_account: { ...tedBody().target_account, owner_name: 'João Conceição' } })
    await settings({ webhook_md5_form: 'json_dumps' })
    await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key })
    const hook = hooksFor(ted.ted_key)[0]!
    const claims = decodeJwt(hook.headers.authorization!)
    const dumped = pythonJsonDumps(JSON.parse(hook.body))
    expect(dumped).toContain('"owner_name": "Jo\\u00e3o Concei\\u00e7\\u00e3o"')
    expect(claims.payload_md5).toBe(md5(dumped))
    expect(claims.payload_md5).not.toBe(md5(hook.body))
    expect(hook.verdict.ok).toBe(false) // a raw-bytes receiver refuses it
    const verdict = await verifyWebhook({
      headers: hook.headers,
      body: hook.body,
      uri: hook.path,
      qiPublicKeyPem: qi.qiPublicKeyPem,
      md5Forms: ['raw', 'json_dumps'],
    })
    expect(verdict.ok).toBe(true)
    await settings({ webhook_md5_form: 'raw' })
    await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key })
    const raw = hooksFor(ted.ted_key)[1]!
    expect(decodeJwt(raw.headers.authorization!).payload_md5).toBe(md5(raw.body))
  })

  it('webhook_signed_uri "full_url": the uri claim is the whole URL the webhook is POSTed to', async () => {
    const ted = await createTed()
    await settings({ webhook_signed_uri: 'full_url' })
    await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key })
    const hook = hooksFor(ted.ted_key)[0]!
    expect(decodeJwt(hook.headers.authorization!).uri).toBe(hookUrl)
    expect(hook.verdict.ok).toBe(false)
    const verdict = await verifyWebhook({
      headers: hook.headers,
      body: hook.body,
      uri: [hook.path, hookUrl],
      qiPublicKeyPem: qi.qiPublicKeyPem,
    })
    expect(verdict.ok).toBe(true)
    await settings({ webhook_signed_uri: 'path' })
    await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key })
    expect(decodeJwt(hooksFor(ted.ted_key)[1]!.headers.authorization!).uri).toBe('/hooks/qi')
  })

  it("pythonJsonDumps writes what Python's json.dumps writes", () => {
    // Expected strings printed by CPython 3 json.dumps(...) with default arguments.
    expect(pythonJsonDumps({ a: 1, b: 'João' })).toBe('{"a": 1, "b": "Jo\\u00e3o"}')
    expect(pythonJsonDumps([1, [2, {}], [], { x: { y: [1.5, -0.25] } }])).toBe(
      '[1, [2, {}], [], {"x": {"y": [1.5, -0.25]}}]',
    )
    expect(pythonJsonDumps({ amount: 150.25, fee: 10, ok: true, no: false, none: null })).toBe(
      '{"amount": 150.25, "fee": 10, "ok": true, "no": false, "none": null}',
    )
    expect(pythonJsonDumps([0.0001, 0.00001, 1.5e-5, 1e21, 123456789.123, -3])).toBe(
      '[0.0001, 1e-05, 1.5e-05, 1e+21, 123456789.123, -3]',
    )
    expect(pythonJsonDumps('a"b\\c\n\t\u007f\u0001😀')).toBe('"a\\"b\\\\c\\n\\t\\u007f\\u0001\\ud83d\\ude00"')
    expect(pythonJsonDumps({ z: 1, a: 2 })).toBe('{"z": 1, "a": 2}') // key order as parsed, not sorted
  })

  it('falls back to settings.webhook_url and records failed deliveries', async () => {
    const noHook = await register({ webhook_url: null, account_count: 1 })
    apiKey = noHook.api_client_key
    const ted = await createTed({}, noHook.account_keys[0])
    const none = await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key })
    expect(none.body.data).toMatchObject({ status: null, error: expect.stringMatching(/no webhook_url/) })

    await settings({ webhook_url: `${receiver.url}/fallback` })
    expect((await control('POST', '/_sandbox/webhooks/send', { ted_key: ted.ted_key })).body.data.status).toBe(200)
    expect(hooksFor(ted.ted_key)[0]!.path).toBe('/fallback')

    const down = await control('POST', '/_sandbox/webhooks/send', {
      ted_key: ted.ted_key,
      url: 'http://127.0.0.1:9/hooks',
    })
    expect(down.body.data).toMatchObject({ status: null, error: expect.any(String) })
  })
})

// ---- authentication test endpoint --------------------------------------------------------------

describe('authentication test endpoint (GET|POST /test/{api_key})', () => {
  const testPath = () => `/test/${apiKey}`

  it("answers a good signed GET with 200, the echo, a QI-signed answer and QI's clock", async () => {
    const before = Date.now()
    const res = await api('GET', testPath())
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      success: 'Congrats!',
      request: {
        method: 'GET',
        uri: testPath(),
        query: '',
        api_key: apiKey,
        api_client_key: apiKey,
        scheme: 'v2',
        headers: expect.objectContaining({ 'api-client-key': apiKey, authorization: expect.any(String) }),
        payload: null,
        signed_claims: { payload_md5: md5('{}'), timestamp: expect.any(String), method: 'GET', uri: testPath() },
      },
      server_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
    })
    const verified = await verifyResponse({
      method: 'GET',
      uri: testPath(),
      headers: res.headers,
      body: res.raw,
      qiPublicKeyPem: qi.qiPublicKeyPem,
      apiClientKey: apiKey,
    })
    expect(verified).toMatchObject({ ok: true, mode: 'header' })
    const signedAt = Date.parse(decodeJwt(res.headers.get('authorization')!).timestamp as string)
    expect(signedAt).toBeGreaterThanOrEqual(before - 1_000)
    expect(signedAt).toBeLessThanOrEqual(Date.now() + 1_000)
    expect(Math.abs(Date.parse(res.headers.get('date')!) - signedAt)).toBeLessThan(2_000)
    // `/test` (the v2 page's endpoint) answers too.
    expect((await api('GET', '/test')).body.request.api_key).toBe(null)
  })

  it('echoes a POSTed payload (v2 and v1); v1 is answered in the v1 form', async () => {
    const body = { name: 'QI Tech' }
    const res = await api('POST', testPath(), body)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ name: 'QI Tech', success: 'Congrats!', request: { payload: body, scheme: 'v2' } })

    const v1 = await signRequestV1({
      method: 'POST',
      uri: testPath(),
      payload: body,
      privateKeyPem: partner.privateKeyPem,
      apiClientKey: apiKey,
    })
    const v1Res = await fetch(`${qi.url}${testPath()}`, { method: 'POST', headers: v1.headers, body: v1.body })
    expect(v1Res.status).toBe(200)
    const v1Raw = await v1Res.text()
    const verified = await verifyResponse({
      method: 'POST',
      uri: testPath(),
      headers: v1Res.headers,
      body: v1Raw,
      qiPublicKeyPem: qi.qiPublicKeyPem,
      apiClientKey: apiKey,
    })
    expect(verified).toMatchObject({
      ok: true,
      mode: 'encoded_body',
      payload: { name: 'QI Tech', success: 'Congrats!', request: { scheme: 'v1', payload: body } },
    })
  })

  it('refuses a wrong API-CLIENT-KEY or key with the same errors as the other routes', async () => {
    const unknown = randomUUID()
    expectError(await api('GET', `/test/${unknown}`, undefined, { apiClientKey: unknown }), 404, 'GDF000018')
    const wrongKey = await api('GET', testPath(), undefined, { key: stranger.privateKeyPem })
    expectError(wrongKey, 401, 'GDF000014')
    expect(wrongKey.body.extra_fields.sandbox_reason).toMatch(/does not verify/)
    expectError(await api('POST', testPath(), { name: 'QI Tech' }, { claims: { uri: '/test' } }), 401, 'GDF000014')
    const noKey = await fetch(`${qi.url}${testPath()}`)
    expect({ status: noKey.status, code: ((await noKey.json()) as any).code }).toEqual({
      status: 400,
      code: 'GDF000003',
    })
  })

  it('clock_offset_ms shifts the clock QI signs with and checks freshness against', async () => {
    const offset = 10 * 60_000
    await settings({ clock_offset_ms: offset })
    // A request signed with the client's (unshifted) clock is now 10 minutes stale for QI.
    const stale = await api('GET', testPath())
    expectError(stale, 401, 'GDF000014')
    expect(stale.body.extra_fields.sandbox_reason).toMatch(/outside the accepted window/)
    const res = await api('GET', testPath(), undefined, { claims: { timestamp: isoTimestamp(Date.now() + offset) } })
    expect(res.status).toBe(200)
    const skew = (ms: number) => ms - Date.now()
    expect(skew(Date.parse(decodeJwt(res.headers.get('authorization')!).timestamp as string))).toBeGreaterThan(
      offset - 5_000,
    )
    expect(skew(Date.parse(res.headers.get('date')!))).toBeGreaterThan(offset - 5_000)
    expect(skew(Date.parse(res.body.server_time))).toBeGreaterThan(offset - 5_000)
    // A client that checks the answer with its own clock sees it as from the future.
    const verified = await verifyResponse({
      method: 'GET',
      uri: testPath(),
      headers: res.headers,
      body: res.raw,
      qiPublicKeyPem: qi.qiPublicKeyPem,
      apiClientKey: apiKey,
    })
    expect(verified).toMatchObject({ ok: false, reason: expect.stringMatching(/outside the accepted window/) })
  })
})

// ---- faults, control, process -------------------------------------------------------------------

describe('faults', () => {
  it('answers a QI envelope for an injected status, once', async () => {
    await control('POST', '/_sandbox/faults', { method: 'POST', path: '/account/:ak/ted', status: 503 })
    const failed = await api('POST', `/account/${account}/ted`, tedBody())
    expectError(failed, 503, 'QIT000503')
    expect((await api('POST', `/account/${account}/ted`, tedBody())).status).toBe(202)
    await control('POST', '/_sandbox/faults', { path: '/account/*', status: 500 })
    expectError(await api('GET', `/account/${account}/teds`), 500, 'QIT000500')
  })

  it('with after: true does the work and loses the answer', async () => {
    await control('POST', '/_sandbox/faults', { method: 'POST', path: '/account/:ak/ted', status: 500, after: true })
    const body = tedBody()
    expect((await api('POST', `/account/${account}/ted`, body)).status).toBe(500)
    const found = await api('GET', `/account/${account}/teds?request_control_key=${body.request_control_key}`)
    expect(found.body.data).toHaveLength(1)
  })

  it('scopes a fault to one API-CLIENT-KEY', async () => {
    const other = await register({ account_count: 1 })
    await control('POST', '/_sandbox/faults', {
      path: '/account/*',
      status: 429,
      count: 5,
      headers: { 'api-client-key': other.api_client_key },
    })
    expect((await api('GET', `/account/${account}/teds`)).status).toBe(200)
    expectError(
      await api('GET', `/account/${other.account_keys[0]}/teds`, undefined, { apiClientKey: other.api_client_key }),
      429,
      'QIT000429',
    )
  })
})

describe('control API', () => {
  it('registers integrations with given keys and validates the public key', async () => {
    const key = randomUUID()
    const accounts = [randomUUID(), randomUUID()]
    const res = await control('POST', '/_sandbox/integrations', {
      public_key_pem: partner.publicKeyPem,
      api_client_key: key,
      account_keys: accounts,
    })
    expect(res).toEqual({
      status: 201,
      body: { data: { api_client_key: key, account_keys: accounts, qi_public_key_pem: qi.qiPublicKeyPem } },
    })
    expect((await control('GET', '/_sandbox/qi-public-key')).body.data.public_key_pem).toBe(qi.qiPublicKeyPem)
    expect((await control('POST', '/_sandbox/integrations', { public_key_pem: 'nope' })).status).toBe(400)
    const privateAsPublic = await control('POST', '/_sandbox/integrations', { public_key_pem: partner.privateKeyPem })
    expect(privateAsPublic.status).toBe(400)
    expect(JSON.stringify(privateAsPublic.body)).not.toContain('PRIVATE')
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    })
    expect((await control('POST', '/_sandbox/integrations', { public_key_pem: p256 })).body.error).toMatch(/P-521/)
    const steal = await control('POST', '/_sandbox/integrations', {
      public_key_pem: partner.publicKeyPem,
      account_keys: [account],
    })
    expect(steal.status).toBe(409)
  })

  it('validates and merges settings, and resets everything', async () => {
    const bad = await settings({ max_attempts: 0, nope: true })
    expect(bad.status).toBe(400)
    expect(Object.keys(bad.body.fields).sort()).toEqual(['max_attempts', 'nope'])
    const merged = await settings({ max_attempts: 3 })
    expect(merged.body.data).toMatchObject({ max_attempts: 3, token_ttl_ms: 300_000, response_signing: 'header' })

    await createTed()
    await control('POST', '/_sandbox/clock', { advance_ms: 1_000 })
    expect((await control('POST', '/_sandbox/reset')).status).toBe(200)
    expect((await control('GET', '/_sandbox/settings')).body.data.max_attempts).toBe(5)
    expect(qi.state.teds.size).toBe(0)
    expect((await control('GET', '/_sandbox/integrations')).body.data).toEqual([])
    expect((await control('GET', '/_sandbox/requests')).body.count).toBe(0)
  })

  it('logs API requests with the API-CLIENT-KEY as credential', async () => {
    await createTed()
    const log = await control('GET', `/_sandbox/requests?credential=${apiKey}`)
    expect(log.body.data).toEqual([
      expect.objectContaining({ method: 'POST', path: `/account/${account}/ted`, status: 202 }),
    ])
  })
})

describe('main.ts', () => {
  it('prints its URL and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/qi/main.ts'], {
      env: { ...process.env, QI_SANDBOX_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => resolve(d.toString()))
      child.once('exit', (code) => reject(new Error(`exited ${code}`)))
    })
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)![0]
    expect(line.trim().split('\n')).toHaveLength(1)
    const key = (await (await fetch(`${url}/_sandbox/qi-public-key`)).json()) as any
    expect(key.data.public_key_pem).toContain('BEGIN PUBLIC KEY')
    const exited = new Promise<number | null>((r) => child.once('exit', r))
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
