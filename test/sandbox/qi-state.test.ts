import { randomUUID } from 'node:crypto'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createQiSandbox, type QiSandboxApp, type QiSandboxOptions } from '../../sandbox/qi/app'
import { generateP521KeyPair, type KeyPairPem } from '../../sandbox/qi/keys'
import { signRequest } from '../../sandbox/qi/signing'
import type { IntegrationState } from '../../sandbox/qi/state'
import { createMemoryStore } from '../../sandbox/qi/store'
import { type Listening, listen } from '../../sandbox/shared/serve'

// The QI sandbox keeps each integration's whole state as plain JSON behind a store, settles pending TEDs
// lazily (`settle_at`) and sends webhooks as effects: what lets it run one request at a time on stored rows.

let partner: KeyPairPem
let receiver: Listening
const received: { ted_key: string; ted_status: string }[] = []
const open: QiSandboxApp[] = []

beforeAll(async () => {
  partner = generateP521KeyPair()
  const app = new Hono()
  app.post('*', async (c) => {
    const { data } = (await c.req.json()) as { data: { ted_key: string; ted_status: string } }
    received.push({ ted_key: data.ted_key, ted_status: data.ted_status })
    return c.json({ received: true })
  })
  receiver = await listen(app)
})

afterAll(async () => {
  for (const qi of open) qi.close()
  await receiver?.close()
})

const waitFor = async <T>(fn: () => T | undefined | Promise<T | undefined>, ms = 3_000): Promise<T> => {
  const until = Date.now() + ms
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** An in-process sandbox (app.request, no port) with one registered integration. */
const boot = async (options: QiSandboxOptions = {}, accountKeys?: string[]) => {
  const qi = createQiSandbox(options)
  open.push(qi)
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await qi.app.request(path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }
  const registered = await call('POST', '/_sandbox/integrations', {
    public_key_pem: partner.publicKeyPem,
    webhook_url: `${receiver.url}/hooks`,
    ...(accountKeys ? { account_keys: accountKeys } : {}),
  })
  expect(registered.status).toBe(201)
  const apiKey = registered.body.data.api_client_key as string
  const account = registered.body.data.account_keys[0] as string
  const api = async (method: string, path: string, body?: object) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const headers = await signRequest({
      method,
      uri: path,
      body: text,
      privateKeyPem: partner.privateKeyPem,
      apiClientKey: apiKey,
    })
    const res = await qi.app.request(path, { method, headers, body: text })
    return { status: res.status, body: (await res.json()) as any }
  }
  const createTed = async () => {
    const res = await api('POST', `/account/${encodeURIComponent(account)}/ted`, {
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
    expect(res.status).toBe(202)
    return res.body.ted_key as string
  }
  const latestToken = async (tedKey: string) =>
    (await call('GET', `/_sandbox/tokens?ted_key=${tedKey}`)).body.data[0].token as string
  const tedPath = (tedKey: string) => `/account/${encodeURIComponent(account)}/ted/${tedKey}`
  const validate = async (tedKey: string) =>
    api('PUT', `${tedPath(tedKey)}/validate_token`, { token: await latestToken(tedKey) })
  const status = async (tedKey: string) => (await api('GET', `${tedPath(tedKey)}/outgoing`)).body.ted_status
  /** Replaces the integration's stored state by its JSON round trip. */
  const roundTrip = () => {
    const state = qi.store.load(apiKey)!
    const restored = JSON.parse(JSON.stringify(state)) as IntegrationState
    expect(restored).toEqual(state)
    qi.store.save(apiKey, restored)
    return restored
  }
  return { qi, call, api, apiKey, account, createTed, validate, status, roundTrip }
}

const hooks = (tedKey: string) => received.filter((r) => r.ted_key === tedKey).map((r) => r.ted_status)

describe('integration state', () => {
  it('survives JSON.parse(JSON.stringify(state)) mid-flow: create, restore, validate, restore, sent', async () => {
    const s = await boot({ approval_outcome: 'pending', settle_delay_ms: 200 })
    const tedKey = await s.createTed()
    const restored = s.roundTrip()
    expect(Object.keys(restored).sort()).toEqual([
      'accounts',
      'integration',
      'teds',
      'tedsByControlKey',
      'tokens',
      'webhooks',
    ])
    expect(restored.teds[tedKey]).toMatchObject({ ted_status: 'pending_2fa_approval', settle_at: null })

    const res = await s.validate(tedKey)
    expect(res.status).toBe(202)
    expect(res.body.ted_status).toBe('pending')
    // The settlement is data (settle_at), not a timer's closure over the old objects.
    expect(s.roundTrip().teds[tedKey]!.settle_at).toEqual(expect.any(Number))
    await waitFor(() => (hooks(tedKey).length === 2 ? true : undefined))
    expect(hooks(tedKey)).toEqual(['pending', 'sent'])
    expect(await s.status(tedKey)).toBe('sent')
    const { data } = (await s.call('GET', `/_sandbox/webhooks?ted_key=${tedKey}`)).body
    expect(data.map((w: any) => [w.ted_status, w.status])).toEqual([
      ['pending', 200],
      ['sent', 200],
    ])
    expect(data[0]).not.toHaveProperty('seq')
  })

  it('runs a whole flow on a store that keeps every integration as a JSON string', async () => {
    const s = await boot({
      store: createMemoryStore({ serialize: true }),
      approval_outcome: 'pending',
      settle_delay_ms: 50,
    })
    const tedKey = await s.createTed()
    expect((await s.validate(tedKey)).status).toBe(202)
    await waitFor(() => (hooks(tedKey).length === 2 ? true : undefined))
    expect(await s.status(tedKey)).toBe('sent')
    // Delivery outcomes are written back through the store too.
    await waitFor(() => (s.qi.state.webhooks.every((w) => w.status === 200) ? true : undefined))
    expect(s.qi.state.webhooks.map((w) => w.ted_status)).toEqual(['pending', 'sent'])
    expect(s.qi.state.teds.size).toBe(1)
  })

  it('settles a due TED when its state is next loaded, without any timer', async () => {
    // Settling runs on the wall clock: a delay a busy machine's answer cannot outlast (30 ms could),
    // then a wait for the moment itself to pass, not a guess at how long that takes.
    const s = await boot({ approval_outcome: 'pending', settle_delay_ms: 3_000 })
    const tedKey = await s.createTed()
    expect((await s.validate(tedKey)).status).toBe(202)
    s.qi.close() // stops the wake-up timers
    const settleAt = s.qi.state.teds.get(tedKey)!.settle_at!
    await waitFor(() => (Date.now() > settleAt ? true : undefined), 10_000)
    expect(s.qi.state.teds.get(tedKey)!.ted_status).toBe('pending')
    expect(await s.status(tedKey)).toBe('sent')
    await waitFor(() => (hooks(tedKey).length === 2 ? true : undefined))
    expect(hooks(tedKey)).toEqual(['pending', 'sent'])
  })

  it('keeps client-chosen keys such as "constructor" and "__proto__" as plain data', async () => {
    const s = await boot({}, ['constructor', '__proto__'])
    const tedKey = await s.createTed()
    const restored = s.roundTrip()
    expect(Object.keys(restored.accounts)).toEqual(['constructor', '__proto__'])
    expect(Object.getPrototypeOf(restored.accounts)).toBe(Object.prototype)
    expect((await s.validate(tedKey)).status).toBe(201)
    expect(await s.status(tedKey)).toBe('sent')
    const unknown = await s.api('GET', '/account/toString/teds')
    expect(unknown.body.code).toBe('TED000009')
  })
})
