import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { SfoxSandboxOptions } from '../../sandbox/sfox/app'
import { type RunningSfoxSandbox, startSfoxSandbox } from '../../sandbox/sfox/server'
import { sfoxControl } from '../helpers/sfox'

const KEY_A = 'key_a_test'
const KEY_B = 'key_b_test'
const ACCT_A = 'acct_1'
const ACCT_B = 'acct_2'

const E = {
  token: 'invalid token. check authorization header.',
  notFound: (id: string) => `Transfer with transfer_id ${id} not found.`,
  notPending: 'Funds transfer is not pending verification.',
  expired: 'Code expired. Request a new code for this transfer.',
  invalid: 'Invalid code.',
  burned: 'Too many invalid attempts. Request a new code for this transfer.',
  // Page 001/003 (Create Transfer), 422 "Duplicate request".
  exists: 'A transaction with the same transfer_id already exists.',
  // Page 001/003, 403 and the other two 422s.
  permission: 'Partner transfer permission not granted.',
  restricted: 'Restricted currency for partner or end user.',
  funds: 'Insufficient funds.',
  // Page 002 (Submit Documents), 500.
  internal: 'An unknown error has occurred. If this persists, please contact support.',
}

type Reply = { status: number; body: any }
type CallOptions = { key?: string | null; body?: unknown; headers?: Record<string, string> }

const running: RunningSfoxSandbox[] = []
afterEach(async () => {
  vi.useRealTimers()
  await Promise.all(running.splice(0).map((s) => s.close()))
})

let seq = 0
const newId = () => `tr_${Date.now().toString(36)}_${++seq}`

const transferBody = (overrides: Record<string, unknown> = {}) => ({
  transfer_id: newId(),
  description: 'Gift card payment',
  purpose: 'GOOD',
  type: 'PAYMENT',
  user_id: 'ClientAccount1',
  currency: 'ETH',
  quantity: 0.1,
  rate: 2000,
  ...overrides,
})

const boot = async (options: SfoxSandboxOptions = {}) => {
  const sb = await startSfoxSandbox({ api_keys: [KEY_A, KEY_B], ...options })
  running.push(sb)

  const call = async (
    method: string,
    path: string,
    { key = KEY_A, body, headers = {} }: CallOptions = {},
  ): Promise<Reply> => {
    const h: Record<string, string> = { ...headers }
    if (key) h.authorization = `Bearer ${key}`
    let payload: BodyInit | undefined
    if (body instanceof FormData) payload = body
    else if (typeof body === 'string') {
      payload = body
      h['content-type'] ??= 'application/json'
    } else if (body !== undefined) {
      payload = JSON.stringify(body)
      h['content-type'] = 'application/json'
    }
    const res = await fetch(sb.url + path, { method, headers: h, body: payload })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
  const control = (method: string, path: string, body?: unknown) => call(method, path, { key: null, body })
  const create = (overrides: Record<string, unknown> = {}, key = KEY_A) =>
    call('POST', '/v1/enterprise/transfer', { key, body: transferBody(overrides) })
  const confirm = (transfer_id: string, otp: unknown, key = KEY_A) =>
    call('POST', '/v1/enterprise/transfer/confirm', { key, body: { transfer_id, otp } })
  const resend = (transfer_id: string, key = KEY_A) =>
    call('POST', '/v1/enterprise/transfer/resend-confirmation', { key, body: { transfer_id } })
  const cancel = (transfer_id: string, key = KEY_A) =>
    call('DELETE', `/v1/enterprise/transfer/${encodeURIComponent(transfer_id)}`, { key })
  const outbox = async (transfer_id: string, account?: string) =>
    (await control('GET', `/_sandbox/outbox?transfer_id=${transfer_id}${account ? `&account=${account}` : ''}`)).body
      .data
  const codeOf = async (transfer_id: string, account = ACCT_A): Promise<string> =>
    (await outbox(transfer_id, account))[0].code
  const advance = (ms: number) => control('POST', '/_sandbox/clock', { advance_ms: ms })
  const history = (query = '', key = KEY_A) => call('GET', `/v1/enterprise/transfer/history${query}`, { key })
  const settings = (patch: unknown) => control('POST', '/_sandbox/settings', patch)
  /** Resends until the new random code differs from `old` (1 in 10^6 chance it does not). */
  const resendNewCode = async (transfer_id: string, old: string) => {
    for (;;) {
      expect((await resend(transfer_id)).status).toBe(200)
      const code = await codeOf(transfer_id)
      if (code !== old) return code
    }
  }
  return {
    sb,
    call,
    control,
    create,
    confirm,
    resend,
    cancel,
    outbox,
    codeOf,
    advance,
    history,
    settings,
    resendNewCode,
  }
}

const multipart = (
  userId: string | null,
  files: { name: string; type: string; bytes: Uint8Array }[],
  fileTypes: unknown,
  ddqId?: string,
) => {
  const form = new FormData()
  if (userId !== null) form.append('user_id', userId)
  for (const f of files) form.append('files', new Blob([f.bytes as Uint8Array<ArrayBuffer>], { type: f.type }), f.name)
  if (fileTypes !== undefined)
    form.append('file_types', typeof fileTypes === 'string' ? fileTypes : JSON.stringify(fileTypes))
  if (ddqId) form.append('ddq_id', ddqId)
  return form
}
const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill)
const png = (name = 'id.png', n = 16) => ({ name, type: 'image/png', bytes: bytes(n) })
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const MB10 = 10 * 1024 * 1024

describe('auth', () => {
  const routes: [string, string][] = [
    ['POST', '/v1/enterprise/transfer'],
    ['POST', '/v1/enterprise/transfer/confirm'],
    ['POST', '/v1/enterprise/transfer/resend-confirmation'],
    ['DELETE', '/v1/enterprise/transfer/abc'],
    ['GET', '/v1/enterprise/transfer/history'],
    ['GET', '/v1/enterprise/transfer/permissions'],
    ['POST', '/v1/enterprise/ddq/upload'],
    ['GET', '/v1/user/balance'],
  ]

  it('answers 401 with the documented body when the key is missing or unknown', async () => {
    const s = await boot()
    for (const [method, path] of routes) {
      for (const key of [null, 'not_a_key']) {
        const r = await s.call(method, path, { key, body: method === 'POST' ? {} : undefined })
        expect(r, `${method} ${path} key=${key}`).toEqual({ status: 401, body: { error: E.token } })
      }
    }
    const basic = await s.call('GET', '/v1/enterprise/transfer/history', {
      key: null,
      headers: { authorization: `Basic ${KEY_A}` },
    })
    expect(basic).toEqual({ status: 401, body: { error: E.token } })
  })

  it('registers accounts through the control API, generated or given keys', async () => {
    const s = await boot()
    const generated = await s.control('POST', '/_sandbox/accounts')
    expect(generated.status).toBe(201)
    expect(generated.body.data).toEqual({
      api_key: expect.stringMatching(/^sfox_sandbox_[0-9a-f]{32}$/),
      account: 'acct_3',
    })
    expect((await s.history('', generated.body.data.api_key)).status).toBe(200)

    const given = await s.control('POST', '/_sandbox/accounts', { api_key: 'my_key' })
    expect(given).toEqual({ status: 201, body: { data: { api_key: 'my_key', account: 'acct_4' } } })
    const again = await s.control('POST', '/_sandbox/accounts', { api_key: 'my_key' })
    expect(again).toEqual({ status: 200, body: { data: { api_key: 'my_key', account: 'acct_4' } } })
    expect((await s.control('POST', '/_sandbox/accounts', { api_key: 'has space' })).status).toBe(422)
  })
})

describe('create transfer', () => {
  it('creates a PAYMENT as PENDING and emails one OTP', async () => {
    const s = await boot()
    const body = transferBody({ quantity: '0.1', rate: '2000' })
    const r = await s.call('POST', '/v1/enterprise/transfer', { body })
    expect(r.status).toBe(201)
    expect(r.body).toEqual({
      data: {
        transfer_id: body.transfer_id,
        transfer_status_code: 'PENDING',
        type: 'PAYMENT',
        quantity: 0.1,
        currency: 'eth',
        user_id: 'ClientAccount1',
        rate: 2000,
        purpose: 'GOOD',
        description: 'Gift card payment',
        atx_id_charged: 1728524,
        atx_id_credited: 1728525,
        // Page 001/003's 201 example of a PENDING PAYMENT: both legs 1127 (was 1100).
        atx_status_charged: 1127,
        atx_status_credited: 1127,
        transfer_date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      },
    })
    const mails = await s.outbox(body.transfer_id)
    expect(mails).toHaveLength(1)
    const mail = mails[0]
    expect(mail).toEqual({
      transfer_id: body.transfer_id,
      account: ACCT_A,
      user_id: 'ClientAccount1',
      to: 'ClientAccount1@users.sfox.sandbox',
      code: expect.stringMatching(/^\d{6}$/),
      sent_at: r.body.data.transfer_date,
      expires_at: new Date(Date.parse(mail.sent_at) + 600_000).toISOString(),
      reason: 'created',
    })
  })

  it('answers a pending PAYMENT in the shape of the page example (keys, order, atx 1127)', async () => {
    const s = await boot()
    // Page 001/003's example request, answered 201 with this body (transfer_date aside).
    const body = {
      transfer_id: newId(),
      user_id: 'ClientAccount1',
      type: 'PAYMENT',
      purpose: 'GOOD',
      description: 'Gift card payment',
      currency: 'eth',
      quantity: 0.1,
      rate: 2000,
    }
    const r = await s.call('POST', '/v1/enterprise/transfer', { body })
    expect(r.status).toBe(201)
    const example = {
      transfer_id: body.transfer_id,
      transfer_status_code: 'PENDING',
      type: 'PAYMENT',
      quantity: 0.1,
      currency: 'eth',
      user_id: 'ClientAccount1',
      rate: 2000,
      purpose: 'GOOD',
      description: 'Gift card payment',
      atx_id_charged: 1728524,
      atx_id_credited: 1728525,
      atx_status_charged: 1127,
      atx_status_credited: 1127,
      transfer_date: r.body.data.transfer_date,
    }
    expect(Object.keys(r.body)).toEqual(['data'])
    expect(Object.keys(r.body.data)).toEqual(Object.keys(example))
    expect(r.body.data).toEqual(example)
  })

  it('completes a PAYOUT at once without an OTP', async () => {
    const s = await boot()
    const r = await s.create({ type: 'PAYOUT', purpose: 'SERVICE', currency: 'UsD' })
    expect(r.status).toBe(201)
    expect(r.body.data).toMatchObject({
      transfer_status_code: 'COMPLETE',
      type: 'PAYOUT',
      purpose: 'SERVICE',
      currency: 'usd',
      atx_status_charged: 1127,
      atx_status_credited: 1127,
    })
    expect(await s.outbox(r.body.data.transfer_id)).toEqual([])
  })

  it('starts a PAYMENT as INITIATED when configured, and it still confirms', async () => {
    const s = await boot({ payment_initial_status: 'INITIATED' })
    const r = await s.create()
    expect(r.body.data.transfer_status_code).toBe('INITIATED')
    const ok = await s.confirm(r.body.data.transfer_id, await s.codeOf(r.body.data.transfer_id))
    expect(ok.status).toBe(201)
    expect(ok.body.data.transfer_status_code).toBe('COMPLETE')
  })

  it('can answer 200 instead of 201, refuse numeric strings, and keep a PAYOUT in flight', async () => {
    const s = await boot({
      create_status_code: 200,
      accept_numeric_strings: false,
      payout_initial_status: 'INITIATED',
      duplicate_transfer_id: 'return_existing',
    })
    expect(await s.create({ quantity: '0.1' })).toEqual({ status: 422, body: { error: 'quantity must be a number' } })
    expect(await s.create({ rate: '2000' })).toEqual({ status: 422, body: { error: 'rate must be a number' } })
    const body = transferBody({ type: 'PAYOUT' })
    const payout = await s.call('POST', '/v1/enterprise/transfer', { body })
    expect(payout.status).toBe(200)
    expect(payout.body.data).toMatchObject({ transfer_status_code: 'INITIATED', atx_status_charged: 1127 })
    expect((await s.call('POST', '/v1/enterprise/transfer', { body })).status).toBe(200)
    const id = body.transfer_id
    expect(await s.outbox(id)).toEqual([])
    // An in-flight PAYOUT waits for no OTP: confirm, resend and cancel do not apply.
    for (const r of [await s.confirm(id, '123456'), await s.resend(id), await s.cancel(id)]) {
      expect(r).toEqual({ status: 422, body: { error: E.notPending } })
    }
    await s.control('POST', `/_sandbox/transfers/${id}/status`, { status: 'COMPLETE' })
    expect((await s.history('?status=COMPLETE')).body.data.map((t: any) => t.transfer_id)).toEqual([id])
  })

  it('validates the 8 fields with the chosen wording, in field order', async () => {
    const s = await boot()
    const cases: [Record<string, unknown>, string][] = [
      [{ transfer_id: undefined }, 'transfer_id is required'],
      [{ transfer_id: '' }, 'transfer_id is required'],
      [{ transfer_id: 42 }, 'transfer_id must be a string'],
      [{ description: undefined }, 'description is required'],
      [{ purpose: undefined }, 'purpose is required'],
      [{ purpose: 'good' }, 'purpose must be one of the following: GOOD, SERVICE'],
      [{ type: 'REFUND' }, 'type must be one of the following: PAYMENT, PAYOUT'],
      [{ type: undefined }, 'type is required'],
      [{ user_id: undefined }, 'user_id is required'],
      [{ currency: undefined }, 'currency is required'],
      [{ currency: 5 }, 'currency must be a string'],
      [{ quantity: undefined }, 'quantity is required'],
      [{ quantity: 'abc' }, 'quantity must be a number'],
      [{ quantity: '0x10' }, 'quantity must be a number'],
      [{ quantity: true }, 'quantity must be a number'],
      [{ quantity: 0 }, 'quantity must be greater than 0'],
      [{ rate: undefined }, 'rate is required'],
      [{ rate: '12a' }, 'rate must be a number'],
      [{ rate: '-1' }, 'rate must be greater than 0'],
      [{ purpose: 'X', type: 'Y', quantity: 'z' }, 'purpose must be one of the following: GOOD, SERVICE'],
    ]
    for (const [overrides, error] of cases) {
      const body = transferBody(overrides)
      const r = await s.call('POST', '/v1/enterprise/transfer', { body })
      expect(r, JSON.stringify(overrides)).toEqual({ status: 422, body: { error } })
    }
    expect((await s.control('GET', '/_sandbox/transfers')).body.data).toEqual([])
  })

  it('answers 400 to malformed JSON and to a non-object body', async () => {
    const s = await boot()
    for (const body of ['{"transfer_id":', '[1,2]', '"text"']) {
      const r = await s.call('POST', '/v1/enterprise/transfer', { body })
      expect(r).toEqual({ status: 400, body: { error: 'Malformed request body' } })
    }
  })

  it('refuses a reused transfer_id in "error" mode and sends no second OTP', async () => {
    const s = await boot()
    const body = transferBody()
    expect((await s.call('POST', '/v1/enterprise/transfer', { body })).status).toBe(201)
    const again = await s.call('POST', '/v1/enterprise/transfer', { body })
    expect(again).toEqual({ status: 422, body: { error: E.exists } })
    const payout = await s.call('POST', '/v1/enterprise/transfer', { body: { ...body, type: 'PAYOUT' } })
    expect(payout).toEqual({ status: 422, body: { error: E.exists } })
    expect(await s.outbox(body.transfer_id)).toHaveLength(1)
  })

  it('answers a duplicate with exactly the page body, whatever differs in the second request', async () => {
    const s = await boot()
    const body = transferBody()
    await s.call('POST', '/v1/enterprise/transfer', { body })
    const res = await fetch(`${s.sb.url}/v1/enterprise/transfer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY_A}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, quantity: 5, user_id: 'someone-else' }),
    })
    expect(res.status).toBe(422)
    expect(await res.text()).toBe('{"error":"A transaction with the same transfer_id already exists."}')
  })

  it('replays the same body in "return_existing" mode, refuses a different one', async () => {
    const s = await boot({ duplicate_transfer_id: 'return_existing' })
    const body = transferBody()
    const first = await s.call('POST', '/v1/enterprise/transfer', { body })
    // Same values after normalisation: numeric string, currency case.
    const same = await s.call('POST', '/v1/enterprise/transfer', {
      body: { ...body, quantity: '0.1', currency: 'eth' },
    })
    expect(same).toEqual({ status: 201, body: first.body })
    const different = await s.call('POST', '/v1/enterprise/transfer', { body: { ...body, quantity: 0.2 } })
    expect(different).toEqual({ status: 422, body: { error: E.exists } })
    expect(await s.outbox(body.transfer_id)).toHaveLength(1)

    expect((await s.confirm(body.transfer_id, await s.codeOf(body.transfer_id))).status).toBe(201)
    const afterConfirm = await s.call('POST', '/v1/enterprise/transfer', { body })
    expect(afterConfirm.status).toBe(201)
    expect(afterConfirm.body.data.transfer_status_code).toBe('COMPLETE')
    expect(await s.outbox(body.transfer_id)).toHaveLength(1)
  })

  it('lists transfer permissions and refuses a disabled type, per account', async () => {
    const s = await boot()
    const both = {
      data: [
        { type: 'PAYMENT', enabled: true },
        { type: 'PAYOUT', enabled: true },
      ],
    }
    expect(await s.call('GET', '/v1/enterprise/transfer/permissions')).toEqual({ status: 200, body: both })

    const set = await s.control('POST', '/_sandbox/permissions', { api_key: KEY_A, PAYMENT: false })
    expect(set).toEqual({ status: 200, body: { data: { account: ACCT_A, PAYMENT: false, PAYOUT: true } } })
    expect((await s.call('GET', '/v1/enterprise/transfer/permissions')).body.data[0]).toEqual({
      type: 'PAYMENT',
      enabled: false,
    })
    // Page 001/003's only 403 text for create (was a made-up "PAYMENT transfers are not enabled ...").
    expect(await s.create()).toEqual({ status: 403, body: { error: E.permission } })
    expect((await s.create({ type: 'PAYOUT' })).status).toBe(201)
    expect((await s.create({}, KEY_B)).status).toBe(201)
    expect(await s.call('GET', '/v1/enterprise/transfer/permissions', { key: KEY_B })).toEqual({
      status: 200,
      body: both,
    })
    expect((await s.control('POST', '/_sandbox/permissions', { account: ACCT_A, PAYOUT: 'no' })).status).toBe(422)
  })

  it('checks user_ids only when require_known_users_for_transfers is on', async () => {
    const s = await boot({ require_known_users_for_transfers: true, known_users_default: ['everyone'] })
    expect(await s.create({ user_id: 'u1' })).toEqual({ status: 404, body: { error: 'user not found' } })
    expect((await s.create({ user_id: 'everyone' })).status).toBe(201)
    await s.control('POST', '/_sandbox/users', { api_key: KEY_A, user_id: 'u1' })
    expect((await s.create({ user_id: 'u1' })).status).toBe(201)
    expect((await s.create({ user_id: 'u1' }, KEY_B)).status).toBe(404)
    await s.settings({ require_known_users_for_transfers: false })
    expect((await s.create({ user_id: 'anyone' }, KEY_B)).status).toBe(201)
  })
})

describe('balances and restricted currencies', () => {
  const balances = (s: Awaited<ReturnType<typeof boot>>, query = '') =>
    s.control('GET', `/_sandbox/balances${query}`).then((r) => r.body.data)
  const setBalance = (s: Awaited<ReturnType<typeof boot>>, body: Record<string, unknown>) =>
    s.control('POST', '/_sandbox/balances', { api_key: KEY_A, ...body })

  it('has no restrictions and unlimited balances by default', async () => {
    const s = await boot()
    expect((await s.create({ quantity: 1e9 })).status).toBe(201)
    expect((await s.create({ type: 'PAYOUT', quantity: 1e9 })).status).toBe(201)
    expect(await balances(s)).toEqual([])
    expect((await s.control('GET', '/_sandbox/restricted-currencies')).body.data).toEqual([
      { account: ACCT_A, user_id: null, currencies: [] },
      { account: ACCT_B, user_id: null, currencies: [] },
    ])
  })

  it('refuses a currency restricted for the account or for the end user (422, page text)', async () => {
    const s = await boot()
    const set = await s.control('POST', '/_sandbox/restricted-currencies', { api_key: KEY_A, currencies: ['ETH'] })
    expect(set).toEqual({ status: 200, body: { data: { account: ACCT_A, user_id: null, currencies: ['eth'] } } })
    for (const type of ['PAYMENT', 'PAYOUT']) {
      expect(await s.create({ type, currency: 'eth' }), type).toEqual({ status: 422, body: { error: E.restricted } })
    }
    expect((await s.create({ currency: 'btc' })).status).toBe(201)
    expect((await s.create({ currency: 'eth' }, KEY_B)).status).toBe(201)
    await s.control('POST', '/_sandbox/restricted-currencies', { api_key: KEY_A, currencies: [] })
    expect((await s.create({ currency: 'eth' })).status).toBe(201)

    await s.control('POST', '/_sandbox/restricted-currencies', {
      api_key: KEY_A,
      user_id: 'blocked-user',
      currencies: ['usd'],
    })
    expect(await s.create({ user_id: 'blocked-user', currency: 'USD', type: 'PAYOUT' })).toEqual({
      status: 422,
      body: { error: E.restricted },
    })
    expect((await s.create({ user_id: 'blocked-user', currency: 'eth' })).status).toBe(201)
    expect((await s.create({ user_id: 'other-user', currency: 'usd' })).status).toBe(201)
    expect((await s.control('GET', `/_sandbox/restricted-currencies?account=${ACCT_A}`)).body.data).toEqual([
      { account: ACCT_A, user_id: null, currencies: [] },
      { account: ACCT_A, user_id: 'blocked-user', currencies: ['usd'] },
    ])
    // Nothing was created, and no code was sent, for the refused transfers.
    expect((await s.control('GET', `/_sandbox/transfers?account=${ACCT_A}`)).body.data).toHaveLength(4)
  })

  it('checks a restricted currency before the balance', async () => {
    const s = await boot()
    await setBalance(s, { currency: 'eth', balance: 0 })
    await s.control('POST', '/_sandbox/restricted-currencies', { api_key: KEY_A, currencies: ['eth'] })
    expect(await s.create({ type: 'PAYOUT', currency: 'eth' })).toEqual({
      status: 422,
      body: { error: E.restricted },
    })
  })

  it('a PAYOUT debits the account balance; over it answers 422 "Insufficient funds."', async () => {
    const s = await boot()
    const set = await setBalance(s, { currency: 'USD', balance: 100 })
    expect(set).toEqual({
      status: 200,
      body: { data: { account: ACCT_A, user_id: null, currency: 'usd', balance: 100, available: 100, held: 0 } },
    })
    await setBalance(s, { user_id: 'u1', currency: 'usd', balance: 5 })
    expect(await s.create({ type: 'PAYOUT', currency: 'usd', quantity: 100.01, user_id: 'u1' })).toEqual({
      status: 422,
      body: { error: E.funds },
    })
    expect((await s.create({ type: 'PAYOUT', currency: 'usd', quantity: 60, user_id: 'u1' })).status).toBe(201)
    // The user's wallet is credited.
    expect(await balances(s)).toEqual([
      { account: ACCT_A, user_id: null, currency: 'usd', balance: 40, available: 40, held: 0 },
      { account: ACCT_A, user_id: 'u1', currency: 'usd', balance: 65, available: 65, held: 0 },
    ])
    expect(await s.create({ type: 'PAYOUT', currency: 'usd', quantity: 40.5 })).toEqual({
      status: 422,
      body: { error: E.funds },
    })
    expect((await s.create({ type: 'PAYOUT', currency: 'usd', quantity: 40 })).status).toBe(201)
    // A PAYMENT does not debit the partner, other currencies and other accounts are unlimited.
    expect((await s.create({ type: 'PAYMENT', currency: 'usd', quantity: 1000 })).status).toBe(201)
    expect((await s.create({ type: 'PAYOUT', currency: 'eth', quantity: 1000 })).status).toBe(201)
    expect((await s.create({ type: 'PAYOUT', currency: 'usd', quantity: 1000 }, KEY_B)).status).toBe(201)
  })

  it('a PAYMENT holds the end user balance until confirm (debited) or cancel (released)', async () => {
    const s = await boot()
    await setBalance(s, { user_id: 'payer', currency: 'eth', balance: 1 })
    await setBalance(s, { currency: 'eth', balance: 10 })
    expect(await s.create({ user_id: 'payer', quantity: 1.5 })).toEqual({ status: 422, body: { error: E.funds } })
    const a = (await s.create({ user_id: 'payer', quantity: 0.6 })).body.data.transfer_id
    expect(await balances(s, '?user_id=payer')).toEqual([
      { account: ACCT_A, user_id: 'payer', currency: 'eth', balance: 1, available: 0.4, held: 0.6 },
    ])
    // The held 0.6 is not available to a second payment.
    expect(await s.create({ user_id: 'payer', quantity: 0.5 })).toEqual({ status: 422, body: { error: E.funds } })
    const b = (await s.create({ user_id: 'payer', quantity: 0.4 })).body.data.transfer_id
    expect(await s.cancel(b)).toEqual({ status: 200, body: { data: { success: true } } })
    expect((await balances(s, '?user_id=payer'))[0]).toMatchObject({ balance: 1, available: 0.4, held: 0.6 })
    expect((await s.confirm(a, await s.codeOf(a))).status).toBe(201)
    expect(await balances(s)).toEqual([
      { account: ACCT_A, user_id: null, currency: 'eth', balance: 10.6, available: 10.6, held: 0 },
      { account: ACCT_A, user_id: 'payer', currency: 'eth', balance: 0.4, available: 0.4, held: 0 },
    ])
    // Users without a wallet are unlimited.
    expect((await s.create({ user_id: 'rich', quantity: 1e6 })).status).toBe(201)
  })

  it('a replayed create ("return_existing") moves no funds twice', async () => {
    const s = await boot({ duplicate_transfer_id: 'return_existing' })
    await setBalance(s, { currency: 'usd', balance: 10 })
    const body = transferBody({ type: 'PAYOUT', currency: 'usd', quantity: 10 })
    expect((await s.call('POST', '/v1/enterprise/transfer', { body })).status).toBe(201)
    expect((await s.call('POST', '/v1/enterprise/transfer', { body })).status).toBe(201)
    expect((await balances(s))[0]).toMatchObject({ balance: 0, available: 0 })
  })

  it('forgets a wallet with balance null and validates control bodies', async () => {
    const s = await boot()
    await setBalance(s, { currency: 'usd', balance: 0 })
    expect((await s.create({ type: 'PAYOUT', currency: 'usd' })).status).toBe(422)
    const forgot = await setBalance(s, { currency: 'usd', balance: null })
    expect(forgot.body.data).toEqual({ account: ACCT_A, user_id: null, currency: 'usd', balance: null })
    expect((await s.create({ type: 'PAYOUT', currency: 'usd' })).status).toBe(201)
    for (const bad of [
      { currency: 'usd', balance: -1 },
      { currency: 'usd', balance: '5' },
      { currency: '', balance: 1 },
      { currency: 'usd', balance: 1, user_id: 7 },
    ]) {
      expect((await setBalance(s, bad)).status, JSON.stringify(bad)).toBe(422)
    }
    expect((await s.control('POST', '/_sandbox/balances', { currency: 'usd', balance: 1 })).status).toBe(422)
    expect(
      (await s.control('POST', '/_sandbox/restricted-currencies', { api_key: KEY_A, currencies: 'eth' })).status,
    ).toBe(422)
    expect(
      (await s.control('POST', '/_sandbox/restricted-currencies', { api_key: KEY_A, currencies: [''] })).status,
    ).toBe(422)
  })

  it('reset clears balances and restrictions', async () => {
    const s = await boot()
    await setBalance(s, { currency: 'usd', balance: 0 })
    await s.control('POST', '/_sandbox/restricted-currencies', { api_key: KEY_A, currencies: ['eth'] })
    await s.control('POST', '/_sandbox/reset')
    expect(await balances(s)).toEqual([])
    expect((await s.create({ type: 'PAYOUT', currency: 'usd' })).status).toBe(201)
    expect((await s.create({ currency: 'eth' })).status).toBe(201)
  })
})

describe('connection check: GET /v1/user/balance and the transfer permission', () => {
  const balance = (s: Awaited<ReturnType<typeof boot>>, key: string | null = KEY_A) =>
    s.call('GET', '/v1/user/balance', { key })
  const revoke = (s: Awaited<ReturnType<typeof boot>>, granted = false, key = KEY_A) =>
    s.control('POST', '/_sandbox/transfer-permission', { api_key: key, granted })

  it('answers 200 with the account balances as a bare array, 401 like every route', async () => {
    const s = await boot()
    expect(await balance(s)).toEqual({ status: 200, body: [] })
    await s.control('POST', '/_sandbox/balances', { api_key: KEY_A, currency: 'usd', balance: 250.5 })
    await s.control('POST', '/_sandbox/balances', { api_key: KEY_A, currency: 'btc', balance: 0.627 })
    await s.control('POST', '/_sandbox/balances', { api_key: KEY_A, user_id: 'u', currency: 'eth', balance: 3 })
    await s.create({ type: 'PAYOUT', currency: 'usd', quantity: 0.5 })
    expect(await balance(s)).toEqual({
      status: 200,
      body: [
        { currency: 'btc', balance: 0.627, available: 0.627, held: 0 },
        { currency: 'usd', balance: 250, available: 250, held: 0 },
      ],
    })
    expect(await balance(s, KEY_B)).toEqual({ status: 200, body: [] })
    for (const key of [null, 'wrong_key']) {
      expect(await balance(s, key)).toEqual({ status: 401, body: { error: E.token } })
    }
    expect(await s.call('POST', '/v1/user/balance')).toEqual({ status: 405, body: { error: 'Method Not Allowed' } })
  })

  it('without the transfer permission: transfer routes 403 (page text), balance and permissions 200', async () => {
    const s = await boot()
    const pending = (await s.create()).body.data.transfer_id
    expect(await revoke(s)).toEqual({ status: 200, body: { data: { account: ACCT_A, granted: false } } })

    const refused = { status: 403, body: { error: E.permission } }
    expect(await s.create()).toEqual(refused)
    expect(await s.create({ type: 'PAYOUT' })).toEqual(refused)
    // Checked before the body: even an invalid create is a 403.
    expect(await s.call('POST', '/v1/enterprise/transfer', { body: {} })).toEqual(refused)
    expect(await s.confirm(pending, '123456')).toEqual(refused)
    expect(await s.resend(pending)).toEqual(refused)
    expect(await s.cancel(pending)).toEqual(refused)
    expect(await s.history()).toEqual(refused)

    expect(await balance(s)).toEqual({ status: 200, body: [] })
    expect(await s.call('GET', '/v1/enterprise/transfer/permissions')).toEqual({
      status: 200,
      body: {
        data: [
          { type: 'PAYMENT', enabled: false },
          { type: 'PAYOUT', enabled: false },
        ],
      },
    })
    // 401 still comes first, and the other account is unaffected.
    expect(await s.create({}, 'wrong_key')).toEqual({ status: 401, body: { error: E.token } })
    expect((await s.create({}, KEY_B)).status).toBe(201)

    await revoke(s, true)
    expect((await s.confirm(pending, await s.codeOf(pending))).status).toBe(201)
    expect((await s.create()).status).toBe(201)
  })

  it('refuses only create with missing_transfer_permission_refuses "create"', async () => {
    const s = await boot({ missing_transfer_permission_refuses: 'create' })
    const pending = (await s.create()).body.data.transfer_id
    await revoke(s)
    expect(await s.create()).toEqual({ status: 403, body: { error: E.permission } })
    expect((await s.history()).status).toBe(200)
    expect((await s.resend(pending)).status).toBe(200)
    expect((await s.cancel(pending)).status).toBe(200)
  })

  it('is not enforced with enforce_transfer_permissions off; validates its body', async () => {
    const s = await boot({ enforce_transfer_permissions: false })
    await revoke(s)
    expect((await s.create()).status).toBe(201)
    expect((await s.control('POST', '/_sandbox/transfer-permission', { api_key: KEY_A, granted: 'no' })).status).toBe(
      422,
    )
    expect((await s.control('POST', '/_sandbox/transfer-permission', { granted: false })).status).toBe(422)
    expect(
      (await s.control('POST', '/_sandbox/transfer-permission', { api_key: 'unknown', granted: false })).status,
    ).toBe(404)
  })

  it('is reachable through the test helpers (test/helpers/sfox.ts)', async () => {
    const s = await boot()
    const helpers = sfoxControl(s.sb.url)
    await helpers.setTransferPermission(ACCT_A, false)
    expect(await s.create()).toEqual({ status: 403, body: { error: E.permission } })
    await helpers.setTransferPermission(ACCT_A, true)
    await helpers.setBalance(ACCT_A, 'usd', 1)
    expect(await s.create({ type: 'PAYOUT', currency: 'usd', quantity: 2 })).toEqual({
      status: 422,
      body: { error: E.funds },
    })
    await helpers.setBalance(ACCT_A, 'eth', 0, 'u9')
    expect(await s.create({ user_id: 'u9' })).toEqual({ status: 422, body: { error: E.funds } })
    await helpers.restrictCurrencies(ACCT_A, ['btc'], 'u9')
    expect(await s.create({ user_id: 'u9', currency: 'btc' })).toEqual({ status: 422, body: { error: E.restricted } })
    await helpers.restrictCurrencies(ACCT_A, ['usd'])
    expect(await s.create({ currency: 'usd' })).toEqual({ status: 422, body: { error: E.restricted } })
  })

  it('is restored by reset', async () => {
    const s = await boot()
    await revoke(s)
    await s.control('POST', '/_sandbox/reset')
    expect((await s.create()).status).toBe(201)
  })
})

describe('confirm', () => {
  it('completes with the right code and refuses a second confirm', async () => {
    const s = await boot()
    const created = (await s.create()).body.data
    const r = await s.confirm(created.transfer_id, await s.codeOf(created.transfer_id))
    expect(r).toEqual({
      status: 201,
      body: {
        data: {
          ...created,
          transfer_status_code: 'COMPLETE',
          atx_status_charged: 1127,
          atx_status_credited: 1127,
        },
      },
    })
    expect(await s.confirm(created.transfer_id, await s.codeOf(created.transfer_id))).toEqual({
      status: 422,
      body: { error: E.notPending },
    })
  })

  it('leaves transfer_date out of the confirm answer when configured', async () => {
    const s = await boot({ confirm_includes_transfer_date: false })
    const id = (await s.create()).body.data.transfer_id
    const r = await s.confirm(id, await s.codeOf(id))
    expect(r.status).toBe(201)
    expect(r.body.data).not.toHaveProperty('transfer_date')
  })

  it('answers the documented and chosen 422s', async () => {
    const s = await boot()
    expect(await s.confirm('nope', '123456')).toEqual({ status: 422, body: { error: E.notFound('nope') } })
    const id = (await s.create()).body.data.transfer_id
    expect(await s.call('POST', '/v1/enterprise/transfer/confirm', { body: { transfer_id: id } })).toEqual({
      status: 422,
      body: { error: 'otp is required' },
    })
    expect(await s.call('POST', '/v1/enterprise/transfer/confirm', { body: { otp: '1' } })).toEqual({
      status: 422,
      body: { error: 'transfer_id is required' },
    })
    expect(await s.confirm(id, 123456)).toEqual({ status: 422, body: { error: 'otp must be a string' } })
    expect(await s.confirm(id, 'wrong')).toEqual({ status: 422, body: { error: E.invalid } })
    const payout = (await s.create({ type: 'PAYOUT' })).body.data.transfer_id
    expect(await s.confirm(payout, '123456')).toEqual({ status: 422, body: { error: E.notPending } })
  })

  it('expires the code after otp_ttl_ms on the sandbox clock', async () => {
    const s = await boot()
    const a = (await s.create()).body.data.transfer_id
    const b = (await s.create()).body.data.transfer_id
    // A margin for the real time that passes between requests.
    await s.advance(590_000)
    expect((await s.confirm(a, await s.codeOf(a))).status).toBe(201)
    await s.advance(10_000)
    expect(await s.confirm(b, await s.codeOf(b))).toEqual({ status: 422, body: { error: E.expired } })
    // The transfer itself stays pending (§5.8): a resend makes it confirmable again.
    expect(
      (await s.control('GET', `/_sandbox/transfers`)).body.data.find((t: any) => t.transfer_id === b)
        .transfer_status_code,
    ).toBe('PENDING')
    expect((await s.resend(b)).status).toBe(200)
    expect((await s.confirm(b, await s.codeOf(b))).status).toBe(201)
  })

  it('expires exactly at sent_at + otp_ttl_ms (wall clock frozen)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const s = await boot()
    const a = (await s.create()).body.data.transfer_id
    const b = (await s.create()).body.data.transfer_id
    await s.advance(599_999)
    expect((await s.confirm(a, await s.codeOf(a))).status).toBe(201)
    await s.advance(1)
    expect(await s.confirm(b, await s.codeOf(b))).toEqual({ status: 422, body: { error: E.expired } })
  })

  it('burns the code after otp_max_attempts wrong tries; a resend restores it', async () => {
    const s = await boot()
    const id = (await s.create()).body.data.transfer_id
    const code = await s.codeOf(id)
    for (let i = 0; i < 5; i++)
      expect(await s.confirm(id, 'wrong')).toEqual({ status: 422, body: { error: E.invalid } })
    expect(await s.confirm(id, code)).toEqual({ status: 422, body: { error: E.burned } })
    const fresh = await s.resendNewCode(id, code)
    expect((await s.confirm(id, fresh)).status).toBe(201)
  })

  it('honours a configured otp_max_attempts, otp_length and fixed_otp', async () => {
    const s = await boot({ otp_max_attempts: 2, otp_length: 8 })
    const id = (await s.create()).body.data.transfer_id
    expect(await s.codeOf(id)).toMatch(/^\d{8}$/)
    await s.confirm(id, 'x')
    await s.confirm(id, 'x')
    expect(await s.confirm(id, await s.codeOf(id))).toEqual({ status: 422, body: { error: E.burned } })
    await s.settings({ fixed_otp: '424242' })
    const fixed = (await s.create()).body.data.transfer_id
    expect(await s.codeOf(fixed)).toBe('424242')
    expect((await s.confirm(fixed, '424242')).status).toBe(201)
  })
})

describe('resend-confirmation', () => {
  it('emails a new code that replaces the old one', async () => {
    const s = await boot()
    const id = (await s.create()).body.data.transfer_id
    const old = await s.codeOf(id)
    expect(await s.resend(id)).toEqual({ status: 200, body: { data: { success: true } } })
    const mails = await s.outbox(id)
    expect(mails.map((m: any) => m.reason)).toEqual(['resend', 'created'])
    const fresh = mails[0].code === old ? await s.resendNewCode(id, old) : mails[0].code
    expect(await s.confirm(id, old)).toEqual({ status: 422, body: { error: E.invalid } })
    expect((await s.confirm(id, fresh)).status).toBe(201)
  })

  it('keeps earlier codes working when resend_invalidates_previous_code is off', async () => {
    const s = await boot({ resend_invalidates_previous_code: false })
    const id = (await s.create()).body.data.transfer_id
    const old = await s.codeOf(id)
    const fresh = await s.resendNewCode(id, old)
    expect(await s.confirm(id, 'wrong')).toEqual({ status: 422, body: { error: E.invalid } })
    expect((await s.confirm(id, old)).status).toBe(201)
    expect(fresh).not.toBe(old)
  })

  it('restarts the expiry and the attempt counter', async () => {
    const s = await boot()
    const id = (await s.create()).body.data.transfer_id
    for (let i = 0; i < 4; i++) await s.confirm(id, 'wrong')
    await s.advance(500_000)
    await s.resend(id)
    const mail = (await s.outbox(id))[0]
    expect(Date.parse(mail.expires_at) - Date.parse(mail.sent_at)).toBe(600_000)
    await s.advance(500_000)
    for (let i = 0; i < 4; i++) expect((await s.confirm(id, 'wrong')).body.error).toBe(E.invalid)
    expect((await s.confirm(id, await s.codeOf(id))).status).toBe(201)
  })

  it('answers the documented 422s', async () => {
    const s = await boot()
    expect(await s.resend('missing-id')).toEqual({ status: 422, body: { error: E.notFound('missing-id') } })
    expect(await s.call('POST', '/v1/enterprise/transfer/resend-confirmation', { body: {} })).toEqual({
      status: 422,
      body: { error: 'transfer_id is required' },
    })
    const payout = (await s.create({ type: 'PAYOUT' })).body.data.transfer_id
    expect(await s.resend(payout)).toEqual({ status: 422, body: { error: E.notPending } })
    expect(await s.outbox(payout)).toEqual([])
  })

  it('enforces an optional cool-down', async () => {
    const s = await boot({ resend_cooldown_ms: 30_000 })
    const id = (await s.create()).body.data.transfer_id
    expect(await s.resend(id)).toEqual({
      status: 422,
      body: { error: 'A new code was sent recently. Wait before requesting another one.' },
    })
    await s.advance(30_000)
    expect((await s.resend(id)).status).toBe(200)
    expect((await s.resend(id)).status).toBe(422)
    expect(await s.outbox(id)).toHaveLength(2)
  })
})

describe('cancel', () => {
  it('cancels a pending PAYMENT; confirm, resend and cancel are then refused', async () => {
    const s = await boot()
    const id = (await s.create()).body.data.transfer_id
    const code = await s.codeOf(id)
    expect(await s.cancel(id)).toEqual({ status: 200, body: { data: { success: true } } })
    expect(await s.confirm(id, code)).toEqual({ status: 422, body: { error: E.notPending } })
    expect(await s.resend(id)).toEqual({ status: 422, body: { error: E.notPending } })
    expect(await s.cancel(id)).toEqual({ status: 422, body: { error: E.notPending } })
    const [row] = (await s.history()).body.data
    expect(row).toMatchObject({ transfer_id: id, transfer_status_code: 'CANCELED', atx_status_charged: '1300' })
  })

  it('answers 422 for unknown and completed transfers', async () => {
    const s = await boot()
    expect(await s.cancel('a b/c')).toEqual({ status: 422, body: { error: E.notFound('a b/c') } })
    const payout = (await s.create({ type: 'PAYOUT' })).body.data.transfer_id
    expect(await s.cancel(payout)).toEqual({ status: 422, body: { error: E.notPending } })
  })
})

describe('history', () => {
  it('lists the account transfers newest first with string atx statuses', async () => {
    const s = await boot()
    const pay = (await s.create()).body.data
    await s.advance(1000)
    const payout = (await s.create({ type: 'PAYOUT', purpose: 'SERVICE' })).body.data
    await s.advance(1000)
    const canceled = (await s.create()).body.data
    await s.cancel(canceled.transfer_id)
    await s.create({}, KEY_B)

    const r = await s.history()
    expect(r.status).toBe(200)
    expect(r.body.data.map((t: any) => t.transfer_id)).toEqual([
      canceled.transfer_id,
      payout.transfer_id,
      pay.transfer_id,
    ])
    expect(r.body.data[1]).toEqual({ ...payout, atx_status_charged: '1200', atx_status_credited: '1200' })
    expect(r.body.data[2]).toEqual({ ...pay, atx_status_charged: '1127', atx_status_credited: '1127' })
    expect(r.body.data[0].atx_status_charged).toBe('1300')
  })

  it('filters by type, purpose, status and date range', async () => {
    const s = await boot()
    const at = (r: Reply) => Date.parse(r.body.data.transfer_date)
    const payR = await s.create()
    const pay = payR.body.data.transfer_id
    await s.advance(10_000)
    const payoutR = await s.create({ type: 'PAYOUT', purpose: 'SERVICE' })
    const payout = payoutR.body.data.transfer_id
    await s.advance(10_000)
    const canceled = (await s.create()).body.data.transfer_id
    await s.cancel(canceled)
    await s.settings({ payment_initial_status: 'INITIATED' })
    const initiated = (await s.create({ purpose: 'SERVICE' })).body.data.transfer_id

    const ids = async (q: string) => (await s.history(q)).body.data.map((t: any) => t.transfer_id)
    expect(await ids('?type=PAYOUT')).toEqual([payout])
    expect(await ids('?type=PAYMENT&purpose=GOOD')).toEqual([canceled, pay])
    expect(await ids('?purpose=SERVICE')).toEqual([initiated, payout])
    expect(await ids('?status=PENDING')).toEqual([pay])
    expect(await ids('?status=COMPLETE')).toEqual([payout])
    expect(await ids('?status=CANCELED')).toEqual([canceled])
    expect(await ids('?status=INITIATED')).toEqual([initiated])
    // Bounds are inclusive.
    expect(await ids(`?from_date=${at(payoutR)}&to_date=${at(payoutR)}`)).toEqual([payout])
    expect(await ids(`?from_date=${at(payoutR) + 1}`)).toEqual([initiated, canceled])
    expect(await ids(`?to_date=${at(payoutR) - 1}`)).toEqual([pay])
    expect(await ids(`?from_date=${at(payoutR)}&to_date=${at(payR)}`)).toEqual([])
    expect(await ids('?type=&status=')).toHaveLength(4)
  })

  it('answers the documented 422 messages', async () => {
    const s = await boot()
    const cases: [string, string][] = [
      ['?type=payment', 'type must be one of the following: PAYMENT, PAYOUT'],
      ['?purpose=GIFT', 'purpose must be one of the following: GOOD, SERVICE'],
      ['?status=COMPLETED', 'status must be one of the following: INITIATED, PENDING, COMPLETE'],
      ['?from_date=yesterday', 'from_date must be a valid unix timestamp in milliseconds'],
      ['?to_date=-5', 'to_date must be a valid unix timestamp in milliseconds'],
      ['?to_date=1.5', 'to_date must be a valid unix timestamp in milliseconds'],
      ['?type=X&to_date=bad', 'type must be one of the following: PAYMENT, PAYOUT'],
    ]
    for (const [q, error] of cases) expect(await s.history(q), q).toEqual({ status: 422, body: { error } })
  })

  it('defaults to the last 3 months', async () => {
    const s = await boot()
    const id = (await s.create()).body.data.transfer_id
    await s.advance(80 * 86_400_000)
    expect((await s.history()).body.data).toHaveLength(1)
    await s.advance(15 * 86_400_000)
    expect((await s.history()).body.data).toEqual([])
    expect((await s.history('?from_date=0')).body.data.map((t: any) => t.transfer_id)).toEqual([id])
  })

  it('returns at most 25,000 rows, the newest ones', async () => {
    const s = await boot()
    const account = s.sb.state.accountByKey(KEY_A)!
    for (let i = 0; i < 25_001; i++) {
      s.sb.state.createTransfer(
        account,
        { ...transferBody({ transfer_id: `bulk_${i}`, currency: 'eth' }), quantity: 1, rate: 1 } as any,
        'COMPLETE',
      )
    }
    const rows = (await s.history()).body.data
    expect(rows).toHaveLength(25_000)
    expect(rows[0].transfer_id).toBe('bulk_25000')
    expect(rows.at(-1).transfer_id).toBe('bulk_1')
  })

  it('shows legs as processing (1127) until atx_settle_ms has passed', async () => {
    const s = await boot({ atx_settle_ms: 5_000 })
    const id = (await s.create()).body.data.transfer_id
    await s.confirm(id, await s.codeOf(id))
    expect((await s.history()).body.data[0].atx_status_charged).toBe('1127')
    await s.advance(5_000)
    expect((await s.history()).body.data[0].atx_status_credited).toBe('1200')
  })
})

describe('accounts', () => {
  it('namespaces transfers per key', async () => {
    const s = await boot()
    const body = transferBody()
    const a = await s.call('POST', '/v1/enterprise/transfer', { key: KEY_A, body })
    const b = await s.call('POST', '/v1/enterprise/transfer', { key: KEY_B, body })
    expect([a.status, b.status]).toEqual([201, 201])
    expect(b.body.data.atx_id_charged).not.toBe(a.body.data.atx_id_charged)

    const codeA = await s.codeOf(body.transfer_id, ACCT_A)
    const codeB = await s.codeOf(body.transfer_id, ACCT_B)
    expect((await s.outbox(body.transfer_id)).map((m: any) => m.account)).toEqual([ACCT_B, ACCT_A])
    if (codeA !== codeB) expect((await s.confirm(body.transfer_id, codeA, KEY_B)).body.error).toBe(E.invalid)
    expect((await s.confirm(body.transfer_id, codeB, KEY_B)).status).toBe(201)
    expect((await s.history('', KEY_A)).body.data[0].transfer_status_code).toBe('PENDING')
    expect((await s.history('', KEY_B)).body.data[0].transfer_status_code).toBe('COMPLETE')

    const onlyA = (await s.create({}, KEY_A)).body.data.transfer_id
    expect(await s.cancel(onlyA, KEY_B)).toEqual({ status: 422, body: { error: E.notFound(onlyA) } })
    expect(await s.resend(onlyA, KEY_B)).toEqual({ status: 422, body: { error: E.notFound(onlyA) } })
    expect((await s.history('', KEY_B)).body.data).toHaveLength(1)
    expect((await s.control('GET', `/_sandbox/transfers?account=${ACCT_A}`)).body.data).toHaveLength(2)
  })
})

describe('routing', () => {
  it('answers 404, 405 and 406 with an error body', async () => {
    const s = await boot()
    expect(await s.call('GET', '/v1/enterprise/nope')).toEqual({ status: 404, body: { error: 'Not Found' } })
    expect(await s.call('GET', '/elsewhere', { key: null })).toEqual({ status: 404, body: { error: 'Not Found' } })
    for (const [method, path] of [
      ['GET', '/v1/enterprise/transfer'],
      ['PUT', '/v1/enterprise/transfer/confirm'],
      ['POST', '/v1/enterprise/transfer/history'],
      ['GET', '/v1/enterprise/transfer/some-id'],
      ['GET', '/v1/enterprise/ddq/upload'],
    ] as const) {
      expect(await s.call(method, path), `${method} ${path}`).toEqual({
        status: 405,
        body: { error: 'Method Not Allowed' },
      })
    }
    const html = await s.call('GET', '/v1/enterprise/transfer/history', { headers: { accept: 'text/html' } })
    expect(html).toEqual({ status: 406, body: { error: 'Not Acceptable' } })
    const json = await s.call('GET', '/v1/enterprise/transfer/history', {
      headers: { accept: 'text/html, application/json;q=0.9' },
    })
    expect(json.status).toBe(200)
  })
})

describe('rate limit', () => {
  it('locks the IP out after max_requests per window, for lockout_ms', async () => {
    const s = await boot({ rate_limit: { max_requests: 3, window_ms: 1_000 } })
    expect((await s.control('GET', '/_sandbox/settings')).body.data.rate_limit).toEqual({
      enabled: true,
      max_requests: 3,
      window_ms: 1_000,
      lockout_ms: 60_000,
    })
    expect((await s.history()).status).toBe(200)
    expect((await s.history('', 'bad')).status).toBe(401) // rejected requests count too
    expect((await s.history('', KEY_B)).status).toBe(200)
    const limited = { status: 429, body: { error: 'Too many requests. Try again later.' } }
    expect(await s.history()).toEqual(limited)
    // X-Forwarded-For is not trusted.
    expect(
      await s.call('GET', '/v1/enterprise/transfer/history', { headers: { 'x-forwarded-for': '10.0.0.9' } }),
    ).toEqual(limited)
    // The control API is never limited.
    expect((await s.control('GET', '/_sandbox/settings')).status).toBe(200)
    await s.advance(59_000)
    expect(await s.history()).toEqual(limited)
    await s.advance(1_000)
    expect((await s.history()).status).toBe(200)
  })

  it('has exact window and lock-out boundaries (wall clock frozen)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const s = await boot({ rate_limit: { max_requests: 2, window_ms: 1_000, lockout_ms: 5_000 } })
    await s.history()
    await s.advance(999)
    await s.history()
    await s.advance(1) // the first request leaves the window exactly now
    expect((await s.history()).status).toBe(200)
    expect((await s.history()).status).toBe(429)
    await s.advance(4_999)
    expect((await s.history()).status).toBe(429)
    await s.advance(1)
    expect((await s.history()).status).toBe(200)
  })

  it('counts within a sliding window and can be disabled', async () => {
    const s = await boot({ rate_limit: { max_requests: 2, window_ms: 1_000 } })
    await s.history()
    await s.advance(600)
    await s.history()
    await s.advance(400) // the first request leaves the window
    expect((await s.history()).status).toBe(200)
    expect((await s.history()).status).toBe(429)
    await s.settings({ rate_limit: { enabled: false } })
    expect((await s.history()).status).toBe(200)
  })
})

describe('faults', () => {
  it('answers an injected status before processing, once', async () => {
    const s = await boot()
    const added = await s.control('POST', '/_sandbox/faults', {
      method: 'POST',
      path: '/v1/enterprise/transfer',
      status: 503,
    })
    expect(added.status).toBe(201)
    const body = transferBody()
    expect(await s.call('POST', '/v1/enterprise/transfer', { body })).toEqual({
      status: 503,
      body: { error: 'Service Unavailable' },
    })
    expect((await s.control('GET', '/_sandbox/transfers')).body.data).toEqual([])
    expect((await s.call('POST', '/v1/enterprise/transfer', { body })).status).toBe(201)

    await s.control('POST', '/_sandbox/faults', {
      path: '/v1/enterprise/transfer/*',
      status: 500,
      body: { error: 'boom' },
    })
    expect(await s.history()).toEqual({ status: 500, body: { error: 'boom' } })
  })

  it('delays a request', async () => {
    const s = await boot()
    await s.control('POST', '/_sandbox/faults', { path: '/v1/enterprise/transfer/history', delay_ms: 300 })
    const started = performance.now()
    expect((await s.history()).status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(280)
  })

  it('with after: true, processes the request and then replaces the answer', async () => {
    const s = await boot({ duplicate_transfer_id: 'return_existing' })
    await s.control('POST', '/_sandbox/faults', {
      method: 'POST',
      path: '/v1/enterprise/transfer',
      status: 504,
      after: true,
    })
    const body = transferBody()
    expect(await s.call('POST', '/v1/enterprise/transfer', { body })).toEqual({
      status: 504,
      body: { error: 'Gateway Timeout' },
    })
    expect(await s.outbox(body.transfer_id)).toHaveLength(1)
    const retry = await s.call('POST', '/v1/enterprise/transfer', { body })
    expect(retry.status).toBe(201)
    expect(retry.body.data.transfer_status_code).toBe('PENDING')
    expect(await s.outbox(body.transfer_id)).toHaveLength(1)
  })

  it('scopes header-matched faults to their account', async () => {
    const s = await boot()
    await s.control('POST', '/_sandbox/faults', {
      headers: { authorization: `Bearer ${KEY_A}` },
      status: 500,
      count: 2,
    })
    expect((await s.history('', KEY_B)).status).toBe(200)
    expect((await s.history('', KEY_A)).status).toBe(500)
    expect((await s.create({}, KEY_B)).status).toBe(201)
    expect((await s.create({}, KEY_A)).status).toBe(500)
    expect((await s.history('', KEY_A)).status).toBe(200)
    expect((await s.control('DELETE', '/_sandbox/faults')).status).toBe(200)
  })
})

describe('request log', () => {
  it('counts requests per path and account, without keys or OTPs', async () => {
    const s = await boot()
    const id = (await s.create()).body.data.transfer_id
    await s.create()
    await s.create({}, KEY_B)
    await s.create({}, 'unknown')
    const code = await s.codeOf(id)
    await s.confirm(id, code)

    const creates = (await s.control('GET', '/_sandbox/requests?method=post&path=/v1/enterprise/transfer')).body
    expect(creates.count).toBe(4)
    expect(creates.data.map((e: any) => [e.credential, e.status])).toEqual([
      [ACCT_A, 201],
      [ACCT_A, 201],
      [ACCT_B, 201],
      [null, 401],
    ])
    const mine = (await s.control('GET', `/_sandbox/requests?credential=${ACCT_A}`)).body
    expect(mine.count).toBe(3)
    const confirmEntry = mine.data.find((e: any) => e.path === '/v1/enterprise/transfer/confirm')
    expect(confirmEntry.body).toEqual({ transfer_id: id, otp: '[redacted]' })
    const all = JSON.stringify((await s.control('GET', '/_sandbox/requests')).body)
    expect(all).not.toContain(KEY_A)
    expect(all).not.toContain(KEY_B)
    expect(all).not.toContain(`"${code}"`)

    await s.control('DELETE', '/_sandbox/requests')
    expect((await s.control('GET', '/_sandbox/requests')).body.count).toBe(0)
  })
})

describe('ddq upload', () => {
  const upload = (s: Awaited<ReturnType<typeof boot>>, form: FormData, key: string | null = KEY_A) =>
    s.call('POST', '/v1/enterprise/ddq/upload', { key, body: form })
  const withUser = async (options: SfoxSandboxOptions = {}) => {
    const s = await boot(options)
    expect(await s.control('POST', '/_sandbox/users', { api_key: KEY_A, user_id: 'user-1' })).toEqual({
      status: 201,
      body: { data: { account: ACCT_A, user_id: 'user-1' } },
    })
    return s
  }

  it('accepts documents, answers 202 and records their metadata and sha256', async () => {
    const s = await withUser()
    const id = { name: 'passport.jpg', type: 'image/jpeg', bytes: new Uint8Array([1, 2, 3, 4, 5]) }
    const bill = { name: 'bill.pdf', type: 'application/pdf', bytes: bytes(1000, 9) }
    const r = await upload(s, multipart('user-1', [id, bill], { 'passport.jpg': 'ID', 'bill.pdf': 'PoR' }, '7'))
    expect(r).toEqual({ status: 202, body: { message: 'Files uploaded successfully' } })
    const recorded = (await s.control('GET', '/_sandbox/uploads?user_id=user-1')).body.data
    expect(recorded).toEqual([
      {
        account: ACCT_A,
        user_id: 'user-1',
        ddq_id: '7',
        name: 'bill.pdf',
        mime: 'application/pdf',
        size: 1000,
        sha256: sha256(bill.bytes),
        document_type: 'PoR',
        received_at: expect.any(String),
      },
      expect.objectContaining({
        name: 'passport.jpg',
        size: 5,
        sha256: sha256(id.bytes),
        document_type: 'ID',
        ddq_id: '7',
      }),
    ])
    expect((await s.control('GET', '/_sandbox/uploads?user_id=other')).body.data).toEqual([])
  })

  it('answers 401, then 404 for a missing or unknown user, per account', async () => {
    const s = await withUser({ known_users_default: ['shared-user'] })
    const form = () => multipart('user-1', [png()], { 'id.png': 'ID' })
    expect(await upload(s, form(), null)).toEqual({ status: 401, body: { error: E.token } })
    expect(await upload(s, form(), KEY_B)).toEqual({ status: 404, body: { error: 'user not found' } })
    expect(await upload(s, multipart(null, [png()], { 'id.png': 'ID' }))).toEqual({
      status: 404,
      body: { error: 'user not found' },
    })
    expect(await upload(s, multipart('ghost', [{ name: 'a.gif', type: 'image/gif', bytes: bytes(1) }], {}))).toEqual({
      status: 404,
      body: { error: 'user not found' },
    })
    expect((await upload(s, multipart('shared-user', [png()], { 'id.png': 'ID' }), KEY_B)).status).toBe(202)
  })

  it('knows every user with every_user_known (the test-mode simulator)', async () => {
    const s = await withUser({ every_user_known: true })
    expect((await upload(s, multipart('never-registered', [png()], { 'id.png': 'ID' }))).status).toBe(202)
  })

  it('checks extension, MIME, file_types keys, document type, then size, in that order', async () => {
    const s = await withUser({ ddq_max_file_bytes: 100 })
    const big = { name: 'big.pdf', type: 'application/pdf', bytes: bytes(101) }
    const gif = { name: 'a.gif', type: 'image/gif', bytes: bytes(1) }
    const badMime = { name: 'b.png', type: 'text/plain', bytes: bytes(1) }
    const cases: [FormData, string][] = [
      [
        multipart('user-1', [png(), gif, badMime], { x: 'nope' }),
        'File extension gif is not allowed, invalid at file a.gif',
      ],
      [
        multipart('user-1', [badMime, gif], { x: 'nope' }),
        // Page 002's full text (was the made-up "File type ... is not allowed ...").
        'File mime type text/plain is not allowed, invalid at file b.png',
      ],
      [
        multipart('user-1', [{ name: 'noext', type: 'image/png', bytes: bytes(1) }], {}),
        'File extension  is not allowed, invalid at file noext',
      ],
      [multipart('user-1', [png(), big], { 'id.png': 'ID', 'other.png': 'nope' }), 'Invalid file name other.png'],
      [multipart('user-1', [png(), big], { 'id.png': 'ID' }), 'Invalid file name big.pdf'],
      [
        multipart('user-1', [png(), big], { 'id.png': 'id', 'big.pdf': 'PoR' }),
        'Invalid file type id, file_types must be one of PoR,ID',
      ],
      [
        multipart('user-1', [png(), big], { 'id.png': 'ID', 'big.pdf': 'PoR' }),
        'File size exceeds the limit of 100 bytes, invalid at file big.pdf',
      ],
      [multipart('user-1', [], { 'id.png': 'ID' }), 'files is required'],
      [multipart('user-1', [png()], '{not json'), 'file_types must be a JSON object'],
      [multipart('user-1', [png()], undefined), 'file_types must be a JSON object'],
    ]
    for (const [form, error] of cases) expect(await upload(s, form), error).toEqual({ status: 422, body: { error } })
    expect((await s.control('GET', '/_sandbox/uploads')).body.data).toEqual([])
    const notMultipart = await s.call('POST', '/v1/enterprise/ddq/upload', { body: { user_id: 'user-1' } })
    expect(notMultipart).toEqual({ status: 400, body: { error: 'Content-Type must be multipart/form-data' } })
  })

  it('with ddq_max_file_bytes at 10 MB, accepts exactly 10 MB and refuses 10 MB + 1 byte', async () => {
    const s = await withUser({ ddq_max_file_bytes: MB10 })
    const exact = { name: 'exact.pdf', type: 'application/pdf', bytes: bytes(MB10, 1) }
    expect((await upload(s, multipart('user-1', [exact], { 'exact.pdf': 'PoR' }))).status).toBe(202)
    expect((await s.control('GET', '/_sandbox/uploads')).body.data[0]).toMatchObject({
      size: MB10,
      sha256: sha256(exact.bytes),
    })
    const over = { name: 'over.pdf', type: 'application/pdf', bytes: bytes(MB10 + 1, 1) }
    expect(await upload(s, multipart('user-1', [over], { 'over.pdf': 'PoR' }))).toEqual({
      status: 422,
      body: { error: 'File size exceeds the limit of 10 MB, invalid at file over.pdf' },
    })
  })
})

describe('ddq upload: page 002 details', () => {
  const upload = (s: Awaited<ReturnType<typeof boot>>, form: FormData) =>
    s.call('POST', '/v1/enterprise/ddq/upload', { body: form })
  const withUser = async (options: SfoxSandboxOptions = {}) => {
    const s = await boot(options)
    await s.control('POST', '/_sandbox/users', { api_key: KEY_A, user_id: 'user-1' })
    return s
  }

  it('has no file size limit by default (page 002 gives none)', async () => {
    const s = await withUser()
    const over = { name: 'over.pdf', type: 'application/pdf', bytes: bytes(MB10 + 1, 1) }
    expect(await upload(s, multipart('user-1', [over], { 'over.pdf': 'PoR' }))).toEqual({
      status: 202,
      body: { message: 'Files uploaded successfully' },
    })
    expect((await s.control('GET', '/_sandbox/uploads')).body.data[0]).toMatchObject({ size: MB10 + 1 })
    // Turned on later, it applies; null turns it off again.
    await s.settings({ ddq_max_file_bytes: MB10 })
    expect((await upload(s, multipart('user-1', [over], { 'over.pdf': 'PoR' }))).status).toBe(422)
    await s.settings({ ddq_max_file_bytes: null })
    expect((await upload(s, multipart('user-1', [over], { 'over.pdf': 'PoR' }))).status).toBe(202)
  })

  it('accepts only the lowercase extensions the page lists by default; ID.PNG is refused', async () => {
    const s = await withUser()
    for (const name of ['ID.PNG', 'scan.Pdf', 'photo.JPG', 'photo.JPEG']) {
      const type = name.toLowerCase().endsWith('pdf')
        ? 'application/pdf'
        : name.includes('PNG')
          ? 'image/png'
          : 'image/jpeg'
      const ext = name.slice(name.lastIndexOf('.') + 1)
      expect(await upload(s, multipart('user-1', [{ name, type, bytes: bytes(4) }], { [name]: 'ID' })), name).toEqual({
        status: 422,
        body: { error: `File extension ${ext} is not allowed, invalid at file ${name}` },
      })
    }
    expect((await s.control('GET', '/_sandbox/uploads')).body.data).toEqual([])
  })

  it('accepts uppercase extensions with ddq_extensions_case_sensitive off', async () => {
    const s = await withUser({ ddq_extensions_case_sensitive: false })
    const form = multipart('user-1', [{ name: 'ID.PNG', type: 'image/png', bytes: bytes(4) }], { 'ID.PNG': 'ID' })
    expect((await upload(s, form)).status).toBe(202)
    const gif = multipart('user-1', [{ name: 'a.GIF', type: 'image/gif', bytes: bytes(4) }], { 'a.GIF': 'ID' })
    expect(await upload(s, gif)).toEqual({
      status: 422,
      body: { error: 'File extension GIF is not allowed, invalid at file a.GIF' },
    })
  })

  it('answers the MIME 422 with the page text, echoing the type as sent', async () => {
    const s = await withUser()
    const cases: [{ name: string; type: string }, string][] = [
      [{ name: 'id.png', type: 'image/gif' }, 'File mime type image/gif is not allowed, invalid at file id.png'],
      [
        { name: 'doc.pdf', type: 'application/x-pdf' },
        'File mime type application/x-pdf is not allowed, invalid at file doc.pdf',
      ],
    ]
    for (const [file, error] of cases) {
      const form = multipart('user-1', [{ ...file, bytes: bytes(4) }], { [file.name]: 'ID' })
      expect(await upload(s, form), file.type).toEqual({ status: 422, body: { error } })
    }
    // MIME types compare without case or parameters.
    const ok = multipart('user-1', [{ name: 'ok.pdf', type: 'Application/PDF', bytes: bytes(4) }], { 'ok.pdf': 'ID' })
    expect((await upload(s, ok)).status).toBe(202)
  })
})

describe('500 answers', () => {
  it('an injected 500 without a body answers the page 002 text', async () => {
    const s = await boot()
    await s.control('POST', '/_sandbox/faults', { path: '/v1/*', status: 500, count: 2 })
    expect(await s.create()).toEqual({ status: 500, body: { error: E.internal } })
    expect(await s.call('GET', '/v1/user/balance')).toEqual({ status: 500, body: { error: E.internal } })
  })

  it('an unexpected error inside the sandbox answers the same 500', async () => {
    const s = await boot()
    const spy = vi.spyOn(s.sb.state, 'accountByKey').mockImplementationOnce(() => {
      throw new Error('boom')
    })
    expect(await s.history()).toEqual({ status: 500, body: { error: E.internal } })
    spy.mockRestore()
    expect((await s.history()).status).toBe(200)
  })
})

describe('control API', () => {
  it('reads, merges and validates settings', async () => {
    const s = await boot()
    const defaults = (await s.control('GET', '/_sandbox/settings')).body.data
    expect(defaults).toEqual({
      payment_initial_status: 'PENDING',
      payout_initial_status: 'COMPLETE',
      create_status_code: 201,
      accept_numeric_strings: true,
      duplicate_transfer_id: 'error',
      otp_length: 6,
      otp_ttl_ms: 600_000,
      otp_max_attempts: 5,
      fixed_otp: null,
      resend_cooldown_ms: 0,
      resend_invalidates_previous_code: true,
      rate_limit: { enabled: true, max_requests: 250, window_ms: 10_000, lockout_ms: 60_000 },
      history_default_window_months: 3,
      history_max_rows: 25_000,
      permissions_default: { PAYMENT: true, PAYOUT: true },
      enforce_transfer_permissions: true,
      known_users_default: [],
      every_user_known: false,
      require_known_users_for_transfers: false,
      missing_transfer_permission_refuses: 'transfer_routes',
      ddq_max_file_bytes: null,
      ddq_extensions_case_sensitive: true,
      atx_status: { pending: 1127, processing: 1127, done: 1200, canceled: 1300 },
      atx_settle_ms: 0,
      confirm_includes_transfer_date: true,
    })
    const merged = await s.settings({ otp_ttl_ms: 1000, rate_limit: { lockout_ms: 5 } })
    expect(merged.status).toBe(200)
    expect(merged.body.data).toEqual({
      ...defaults,
      otp_ttl_ms: 1000,
      rate_limit: { ...defaults.rate_limit, lockout_ms: 5 },
    })
    for (const bad of [
      { otp_length: 0 },
      { nope: 1 },
      { duplicate_transfer_id: 'ignore' },
      { rate_limit: { max_requests: -1 } },
    ]) {
      const r = await s.settings(bad)
      expect(r.status, JSON.stringify(bad)).toBe(422)
      expect(typeof r.body.error).toBe('string')
    }
    expect((await s.control('GET', '/_sandbox/settings')).body.data.otp_ttl_ms).toBe(1000)
    await expect(startSfoxSandbox({ otp_length: -1 } as any)).rejects.toThrow(/invalid sFOX sandbox settings/)
  })

  it('moves the clock forward', async () => {
    const s = await boot()
    const before = (await s.control('GET', '/_sandbox/clock')).body.data.now_ms
    const after = (await s.advance(86_400_000)).body.data
    expect(after.now_ms - before).toBeGreaterThanOrEqual(86_400_000)
    expect(after.now).toBe(new Date(after.now_ms).toISOString())
    expect((await s.control('POST', '/_sandbox/clock', { advance_ms: 'soon' })).status).toBe(422)
  })

  it('forces transfer statuses for reconciliation tests', async () => {
    const s = await boot()
    const id = (await s.create()).body.data.transfer_id
    const forced = await s.control('POST', `/_sandbox/transfers/${id}/status`, { status: 'COMPLETE' })
    expect(forced.status).toBe(200)
    expect(forced.body.data).toMatchObject({
      account: ACCT_A,
      transfer_id: id,
      transfer_status_code: 'COMPLETE',
      atx_status_charged: 1200,
    })
    expect((await s.history('?status=COMPLETE')).body.data.map((t: any) => t.transfer_id)).toEqual([id])
    expect(await s.confirm(id, await s.codeOf(id))).toEqual({ status: 422, body: { error: E.notPending } })

    await s.control('POST', `/_sandbox/transfers/${id}/status`, { status: 'PENDING', account: ACCT_A })
    expect(await s.confirm(id, await s.codeOf(id))).toEqual({ status: 422, body: { error: E.expired } })
    await s.resend(id)
    expect((await s.confirm(id, await s.codeOf(id))).status).toBe(201)

    const shared = transferBody()
    await s.call('POST', '/v1/enterprise/transfer', { key: KEY_A, body: shared })
    await s.call('POST', '/v1/enterprise/transfer', { key: KEY_B, body: shared })
    const path = `/_sandbox/transfers/${shared.transfer_id}/status`
    expect((await s.control('POST', path, { status: 'CANCELED' })).status).toBe(409)
    expect((await s.control('POST', path, { status: 'CANCELED', api_key: KEY_B })).body.data.account).toBe(ACCT_B)
    expect((await s.history('?status=CANCELED', KEY_B)).body.data).toHaveLength(1)
    expect((await s.history('?status=CANCELED', KEY_A)).body.data).toHaveLength(0)
    expect((await s.control('POST', '/_sandbox/transfers/none/status', { status: 'CANCELED' })).status).toBe(404)
    expect((await s.control('POST', path, { status: 'DONE', account: ACCT_A })).status).toBe(422)

    const listed = (await s.control('GET', `/_sandbox/transfers?account=${ACCT_B}`)).body.data
    expect(listed).toEqual([
      expect.objectContaining({ account: ACCT_B, transfer_id: shared.transfer_id, transfer_status_code: 'CANCELED' }),
    ])
  })

  it('lists users and needs an account when several exist', async () => {
    const s = await boot()
    expect((await s.control('POST', '/_sandbox/users', { user_id: 'u' })).status).toBe(422)
    expect((await s.control('POST', '/_sandbox/users', { account: 'acct_99', user_id: 'u' })).status).toBe(404)
    expect((await s.control('POST', '/_sandbox/users', { account: ACCT_B })).status).toBe(422)
    await s.control('POST', '/_sandbox/users', { account: ACCT_B, user_id: 'u' })
    expect((await s.control('GET', '/_sandbox/users')).body.data).toEqual([{ account: ACCT_B, user_id: 'u' }])
  })

  it('resets all state but keeps the start keys and start settings', async () => {
    const s = await boot({ otp_length: 4 })
    const extra = (await s.control('POST', '/_sandbox/accounts')).body.data.api_key
    const id = (await s.create()).body.data.transfer_id
    await s.settings({ otp_length: 7, rate_limit: { max_requests: 100 } })
    await s.control('POST', '/_sandbox/users', { api_key: KEY_A, user_id: 'u' })
    await s.control('POST', '/_sandbox/faults', { path: '/v1/*', status: 500, count: 100 })
    await s.advance(1_000_000)

    expect(await s.control('POST', '/_sandbox/reset')).toEqual({ status: 200, body: { data: { success: true } } })
    expect((await s.control('GET', '/_sandbox/transfers')).body.data).toEqual([])
    expect(await s.outbox(id)).toEqual([])
    expect((await s.control('GET', '/_sandbox/users')).body.data).toEqual([])
    expect((await s.control('GET', '/_sandbox/faults')).body.data).toEqual([])
    expect((await s.control('GET', '/_sandbox/requests')).body.count).toBe(0)
    const settings = (await s.control('GET', '/_sandbox/settings')).body.data
    expect([settings.otp_length, settings.rate_limit.max_requests]).toEqual([4, 250])
    expect(Math.abs((await s.control('GET', '/_sandbox/clock')).body.data.now_ms - Date.now())).toBeLessThan(5_000)
    expect((await s.history('', extra)).status).toBe(401)
    const again = await s.create({}, KEY_B)
    expect(again.status).toBe(201)
    expect(await s.codeOf(again.body.data.transfer_id, ACCT_B)).toMatch(/^\d{4}$/)
  })

  it('answers 404 for unknown control routes and 400 for malformed bodies', async () => {
    const s = await boot()
    expect(await s.control('GET', '/_sandbox/nothing')).toEqual({ status: 404, body: { error: 'Not Found' } })
    expect((await s.call('POST', '/_sandbox/settings', { key: null, body: '{oops' })).status).toBe(400)
  })
})

describe('CLI', () => {
  it('starts from env, prints one line with the URL, serves the dev key and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'sandbox/sfox/main.ts'], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, SFOX_SANDBOX_PORT: '0', SFOX_SANDBOX_API_KEY: 'cli_key' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 10_000)
        child.stdout.on('data', () => {
          const match = /http:\/\/127\.0\.0\.1:\d+/.exec(out)
          if (match) {
            clearTimeout(timer)
            resolve(match[0])
          }
        })
      })
      const res = await fetch(`${url}/v1/enterprise/transfer/history`, { headers: { authorization: 'Bearer cli_key' } })
      expect(res.status).toBe(200)
      expect(out.trim().split('\n')).toHaveLength(1)
      expect(out).not.toContain('cli_key')
    } finally {
      child.kill('SIGTERM')
    }
    const [code] = await once(child, 'exit')
    expect(code).toBe(0)
  })
})
