import { randomUUID } from 'node:crypto'
import { dirname } from 'node:path'
import { type Client, createClient } from '@libsql/client'
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { migrateDatabase } from '../../db/migrate'
import { signRequest, verifyResponse } from '../../sandbox/qi/signing'
import {
  SIMULATOR_PARTNER_HEADER,
  SIMULATOR_QI_CLIENT_PRIVATE_KEY_PEM,
  SIMULATOR_QI_PUBLIC_KEY_PEM,
  SIMULATOR_SFOX_API_KEY,
  simulatorQiAccountKey,
} from '../../src/providers/simulator/fixtures'

// The built simulator Worker (sandbox/simulator) alone in workerd, on its own migrated database of the shared
// libSQL server; driven with real requests as the gateway sends them through its SIMULATOR binding.

let mf: Miniflare
let db: Client

beforeAll(async () => {
  const dbUrl = `${inject('libsqlUrl')}/sim_${randomUUID().replaceAll('-', '').slice(0, 12)}/`
  await migrateDatabase(dbUrl)
  db = createClient({ url: dbUrl })
  const scriptPath = inject('simulatorScript')
  // Configured from sandbox/simulator/wrangler.toml (compatibility date and flags), on this file's database.
  const options = JSON.parse(inject('simulatorOptions'))
  expect(options).toMatchObject({ compatibilityDate: '2026-04-20', compatibilityFlags: ['nodejs_compat'] })
  mf = new Miniflare({
    ...options,
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    bindings: { ...options.bindings, LIBSQL_URL: dbUrl },
  })
  await mf.ready
})

afterAll(async () => {
  db?.close()
  await mf?.dispose()
})

const newPartner = () => `p_${randomUUID().slice(0, 8)}`

// Headers as a plain record: Miniflare's Headers class is not this realm's, which verifyResponse checks for.
type Answer = { status: number; headers: Record<string, string>; text: string; body: any }

const send = async (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => {
  const res = await mf.dispatchFetch(url, init)
  const text = await res.text()
  let body: any = null
  try {
    body = text ? JSON.parse(text) : null
  } catch {
    body = text
  }
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), text, body } satisfies Answer
}

// ---- sFOX: the enterprise API with the simulator's fixed key ----

const sfox = (partner: string, method: string, path: string, body?: unknown, key = SIMULATOR_SFOX_API_KEY) =>
  send(`https://sfox.simulator${path}`, {
    method,
    headers: {
      [SIMULATOR_PARTNER_HEADER]: partner,
      authorization: `Bearer ${key}`,
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

const payment = (transferId: string) => ({
  transfer_id: transferId,
  description: 'Gift card payment',
  purpose: 'GOOD',
  type: 'PAYMENT',
  user_id: 'user-1',
  currency: 'usd',
  quantity: 10,
  rate: 1,
})

const codeFor = async (partner: string, transferId: string) => {
  const outbox = await sfox(partner, 'GET', `/_sandbox/outbox?transfer_id=${transferId}`)
  expect(outbox.status).toBe(200)
  return outbox.body.data[0]?.code as string | undefined
}

// ---- QI: requests signed with the simulator's client key, answers verified with its QI key ----

const qi = async (partner: string, method: string, path: string, payload?: unknown, apiClientKey = partner) => {
  const body = payload === undefined ? undefined : JSON.stringify(payload)
  const signed = path.startsWith('/_sandbox/')
    ? {}
    : await signRequest({ method, uri: path, body, privateKeyPem: SIMULATOR_QI_CLIENT_PRIVATE_KEY_PEM, apiClientKey })
  const headers: Record<string, string> = { [SIMULATOR_PARTNER_HEADER]: partner, ...signed }
  if (body !== undefined) headers['content-type'] = 'application/json'
  return send(`https://qi.simulator${path}`, { method, headers, body })
}

const verified = async (answer: Answer, method: string, path: string, apiClientKey: string) =>
  verifyResponse({
    method,
    uri: path,
    headers: answer.headers,
    body: answer.text,
    qiPublicKeyPem: SIMULATOR_QI_PUBLIC_KEY_PEM,
    apiClientKey,
  })

const tedBody = () => ({
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
})

const createTed = async (partner: string) => {
  const res = await qi(partner, 'POST', `/account/${simulatorQiAccountKey(partner)}/ted`, tedBody())
  expect(res.status, res.text).toBe(202)
  return res.body.ted_key as string
}

const tokensOf = async (partner: string, tedKey?: string) => {
  const res = await qi(partner, 'GET', `/_sandbox/tokens${tedKey ? `?ted_key=${tedKey}` : ''}`)
  expect(res.status).toBe(200)
  return res.body.data as { ted_key: string; token: string }[]
}

// ---- the stored row ----

const row = async (partner: string, provider: 'sfox' | 'qi') => {
  const { rows } = await db.execute({
    sql: 'SELECT state, version FROM simulator_state WHERE partner_id = ? AND provider = ?',
    args: [partner, provider],
  })
  const found = rows[0]
  return found ? { state: JSON.parse(String(found.state)), version: Number(found.version) } : undefined
}

describe('sFOX through the simulator', () => {
  it('runs a PAYMENT from create to COMPLETE, every step kept in the database', async () => {
    const partner = newPartner()
    const created = await sfox(partner, 'POST', '/v1/enterprise/transfer', payment('tr-1'))
    expect(created.status, created.text).toBe(201)
    expect(created.body.data).toMatchObject({ transfer_id: 'tr-1', transfer_status_code: 'PENDING' })
    // The account is the partner's own, made on its first request.
    expect((await row(partner, 'sfox'))?.state).toMatchObject({
      id: partner,
      api_key: SIMULATOR_SFOX_API_KEY,
      transfers: { 'tr-1': { status: 'PENDING' } },
    })

    const code = await codeFor(partner, 'tr-1')
    expect(code).toMatch(/^\d{6}$/)
    const wrong = await sfox(partner, 'POST', '/v1/enterprise/transfer/confirm', {
      transfer_id: 'tr-1',
      otp: code === '000000' ? '111111' : '000000',
    })
    expect(wrong.status).toBe(422)
    // A wrong try is counted in the stored state too.
    expect((await row(partner, 'sfox'))?.state.transfers['tr-1'].otp.attempts).toBe(1)

    const confirmed = await sfox(partner, 'POST', '/v1/enterprise/transfer/confirm', { transfer_id: 'tr-1', otp: code })
    expect(confirmed.status, confirmed.text).toBe(201)
    expect(confirmed.body.data.transfer_status_code).toBe('COMPLETE')

    const listed = await sfox(partner, 'GET', '/_sandbox/transfers')
    expect(listed.body.data).toMatchObject([
      { account: partner, transfer_id: 'tr-1', transfer_status_code: 'COMPLETE' },
    ])
    const stored = await row(partner, 'sfox')
    expect(stored?.state.transfers['tr-1'].status).toBe('COMPLETE')
    // Create, the wrong try, confirm: three saves; the reads saved nothing.
    expect(stored?.version).toBe(3)
  })

  it('forces a status with the control route, and still checks the enterprise key', async () => {
    const partner = newPartner()
    expect((await sfox(partner, 'POST', '/v1/enterprise/transfer', payment('tr-2'))).status).toBe(201)
    const forced = await sfox(partner, 'POST', '/_sandbox/transfers/tr-2/status', { status: 'CANCELED' })
    expect(forced.status, forced.text).toBe(200)
    expect(forced.body.data).toMatchObject({ account: partner, transfer_id: 'tr-2' })
    expect((await row(partner, 'sfox'))?.state.transfers['tr-2'].status).toBe('CANCELED')

    const stranger = await sfox(partner, 'POST', '/v1/enterprise/transfer', payment('tr-3'), 'not-the-simulator-key')
    expect(stranger.status).toBe(401)
  })
})

describe('QI through the simulator', () => {
  it('creates a TED, approves it with the emailed token and reads it sent, every answer signed by QI', async () => {
    const partner = newPartner()
    const account = simulatorQiAccountKey(partner)
    const path = `/account/${account}/ted`
    const created = await qi(partner, 'POST', path, tedBody())
    expect(created.status, created.text).toBe(202)
    expect(await verified(created, 'POST', path, partner)).toMatchObject({ ok: true })
    const tedKey = created.body.ted_key as string
    expect(created.body.ted_status).toBe('pending_2fa_approval')
    expect((await row(partner, 'qi'))?.state.integration).toMatchObject({
      api_client_key: partner,
      account_keys: [account],
      webhook_url: null,
    })

    const [token] = await tokensOf(partner, tedKey)
    expect(token?.token).toMatch(/^\d+$/)
    const validatePath = `/account/${account}/ted/${tedKey}/validate_token`
    const approved = await qi(partner, 'PUT', validatePath, { token: token!.token })
    expect(approved.status, approved.text).toBe(201)
    expect(await verified(approved, 'PUT', validatePath, partner)).toMatchObject({ ok: true })

    const readPath = `/account/${account}/ted/${tedKey}/outgoing`
    const read = await qi(partner, 'GET', readPath)
    expect(read.status, read.text).toBe(200)
    expect(read.body.ted_status).toBe('sent')
    const control = await qi(partner, 'GET', `/_sandbox/teds/${tedKey}`)
    expect(control.body.data).toMatchObject({ ted_key: tedKey, ted_status: 'sent', api_client_key: partner })
    expect((await row(partner, 'qi'))?.state.teds[tedKey].ted_status).toBe('sent')
  })

  it('forces a status with the control route (no webhook is registered)', async () => {
    const partner = newPartner()
    const tedKey = await createTed(partner)
    const forced = await qi(partner, 'POST', `/_sandbox/teds/${tedKey}/status`, { ted_status: 'rejected' })
    expect(forced.status, forced.text).toBe(200)
    expect(forced.body.data.ted.ted_status).toBe('rejected')
    expect(forced.body.data.webhook.status).toBeNull()
    expect((await row(partner, 'qi'))?.state.teds[tedKey].ted_status).toBe('rejected')
  })

  it('refuses a request signed with another key', async () => {
    const partner = newPartner()
    const path = `/account/${simulatorQiAccountKey(partner)}/teds`
    const headers = await signRequest({
      method: 'GET',
      uri: path,
      privateKeyPem: (await import('../../sandbox/qi/keys')).generateP521KeyPair().privateKeyPem,
      apiClientKey: partner,
    })
    const res = await send(`https://qi.simulator${path}`, {
      method: 'GET',
      headers: { [SIMULATOR_PARTNER_HEADER]: partner, ...headers },
    })
    expect(res.status).toBe(401)
  })
})

describe('partners never see each other', () => {
  it("keeps each partner's transfers, codes, TEDs and tokens to itself", async () => {
    const a = newPartner()
    const b = newPartner()
    expect((await sfox(a, 'POST', '/v1/enterprise/transfer', payment('shared-id'))).status).toBe(201)
    const tedKey = await createTed(a)

    // The same transfer_id is free for another partner: a different account.
    expect((await sfox(b, 'POST', '/v1/enterprise/transfer', payment('b-only'))).status).toBe(201)
    expect((await sfox(b, 'GET', '/_sandbox/transfers')).body.data.map((t: any) => t.transfer_id)).toEqual(['b-only'])
    expect((await sfox(b, 'GET', '/_sandbox/outbox')).body.data.map((e: any) => e.transfer_id)).toEqual(['b-only'])
    expect(await codeFor(b, 'shared-id')).toBeUndefined()
    expect((await sfox(b, 'POST', '/_sandbox/transfers/shared-id/status', { status: 'COMPLETE' })).status).toBe(404)
    expect(
      (await sfox(b, 'POST', '/_sandbox/transfers/shared-id/status', { account: a, status: 'COMPLETE' })).status,
    ).toBe(404)
    expect((await row(a, 'sfox'))?.state.transfers['shared-id'].status).toBe('PENDING')

    expect(await tokensOf(b)).toEqual([])
    expect(await tokensOf(b, tedKey)).toEqual([])
    expect((await qi(b, 'GET', `/_sandbox/teds/${tedKey}`)).status).toBe(404)
    expect((await qi(b, 'POST', `/_sandbox/teds/${tedKey}/status`, { ted_status: 'sent' })).status).toBe(404)
    // Partner A's integration does not exist in B's simulated QI, even with A's key and a valid signature.
    const asA = await qi(b, 'GET', `/account/${simulatorQiAccountKey(a)}/ted/${tedKey}/outgoing`, undefined, a)
    expect(asA.status).toBe(404)
    expect(asA.body.code).toBe('GDF000018')
    expect((await tokensOf(a)).map((t) => t.ted_key)).toEqual([tedKey])
  })
})

describe('concurrent requests for one partner', () => {
  it('loses no update: 10 sFOX creates at once all persist', async () => {
    const partner = newPartner()
    const ids = Array.from({ length: 10 }, (_, i) => `c-${i}`)
    const answers = await Promise.all(ids.map((id) => sfox(partner, 'POST', '/v1/enterprise/transfer', payment(id))))
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 201))
    const listed = await sfox(partner, 'GET', '/_sandbox/transfers')
    expect(listed.body.data.map((t: any) => t.transfer_id).sort()).toEqual(ids)
    expect((await sfox(partner, 'GET', '/_sandbox/outbox')).body.data).toHaveLength(10)
    const stored = await row(partner, 'sfox')
    expect(Object.keys(stored!.state.transfers).sort()).toEqual(ids)
    // Atx ids stay unique although each create started from a copy of the state.
    const atx = Object.values(stored!.state.transfers).flatMap((t: any) => [t.atx_id_charged, t.atx_id_credited])
    expect(new Set(atx).size).toBe(20)
  })

  it('loses no update: 10 QI TED creates at once all persist, each with its token', async () => {
    const partner = newPartner()
    const tedKeys = await Promise.all(Array.from({ length: 10 }, () => createTed(partner)))
    expect(new Set(tedKeys).size).toBe(10)
    expect(Object.keys((await row(partner, 'qi'))!.state.teds).sort()).toEqual([...tedKeys].sort())
    expect((await tokensOf(partner)).map((t) => t.ted_key).sort()).toEqual([...tedKeys].sort())
  })
})

describe('what the simulator refuses', () => {
  it('answers 404 to every control route but the few the gateway uses, and stores nothing for them', async () => {
    const partner = newPartner()
    const forbidden: [string, string, string][] = [
      ['sfox', 'POST', '/_sandbox/reset'],
      ['sfox', 'GET', '/_sandbox/settings'],
      ['sfox', 'POST', '/_sandbox/settings'],
      ['sfox', 'POST', '/_sandbox/clock'],
      ['sfox', 'POST', '/_sandbox/faults'],
      ['sfox', 'POST', '/_sandbox/accounts'],
      ['sfox', 'GET', '/_sandbox/requests'],
      ['sfox', 'GET', '/_sandbox/users'],
      ['sfox', 'POST', '/_sandbox/balances'],
      ['sfox', 'GET', '/_sandbox/transfers/x/status'],
      ['sfox', 'POST', '/%5Fsandbox/reset'],
      ['qi', 'POST', '/_sandbox/reset'],
      ['qi', 'POST', '/_sandbox/integrations'],
      ['qi', 'GET', '/_sandbox/integrations'],
      ['qi', 'GET', '/_sandbox/qi-public-key'],
      ['qi', 'GET', '/_sandbox/webhooks'],
      ['qi', 'POST', '/_sandbox/webhooks/send'],
      ['qi', 'POST', '/_sandbox/settings'],
      ['qi', 'POST', '/_sandbox/clock'],
      ['qi', 'GET', '/_sandbox/outbox'],
    ]
    for (const [provider, method, path] of forbidden) {
      const res = await send(`https://${provider}.simulator${path}`, {
        method,
        headers: { [SIMULATOR_PARTNER_HEADER]: partner, 'content-type': 'application/json' },
        body: method === 'POST' ? '{}' : undefined,
      })
      expect([provider, method, path, res.status, res.body]).toEqual([
        provider,
        method,
        path,
        404,
        { error: 'not found' },
      ])
    }
    expect(await row(partner, 'sfox')).toBeUndefined()
    expect(await row(partner, 'qi')).toBeUndefined()
  })

  it('answers 404 for a host that names no simulated provider', async () => {
    const res = await send('https://stripe.simulator/v1/charges', {
      method: 'GET',
      headers: { [SIMULATOR_PARTNER_HEADER]: newPartner() },
    })
    expect(res.status).toBe(404)
    expect(res.body).toEqual({ error: 'not found' })
  })

  it('answers 400 without a valid partner header', async () => {
    for (const partner of [undefined, '', 'has space', 'a/b', 'x'.repeat(65), 'ünï']) {
      const headers: Record<string, string> = { authorization: `Bearer ${SIMULATOR_SFOX_API_KEY}` }
      if (partner !== undefined) headers[SIMULATOR_PARTNER_HEADER] = partner
      const res = await send('https://sfox.simulator/v1/user/balance', { method: 'GET', headers })
      expect([partner, res.status]).toEqual([partner, 400])
      expect(res.body.error).toContain(SIMULATOR_PARTNER_HEADER)
    }
  })
})
