import { describe, expect, it } from 'vitest'
import { createSfoxSandbox, type SfoxSandboxOptions } from '../../sandbox/sfox/app'
import type { SfoxAccountState } from '../../sandbox/sfox/state'
import { createMemorySfoxStore } from '../../sandbox/sfox/store'

// Each sFOX sandbox account is one plain JSON value, so a store can keep it as a database row between requests.

const KEY = 'key_state_test'
const OTHER_KEY = 'key_state_other'

const sandbox = (options: SfoxSandboxOptions = {}) => {
  const sb = createSfoxSandbox(options)
  const call = async (method: string, path: string, body?: unknown, key: string | null = KEY) => {
    const headers: Record<string, string> = {}
    if (key) headers.authorization = `Bearer ${key}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await sb.app.request(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: (await res.json()) as any }
  }
  return { sb, call, control: (method: string, path: string, body?: unknown) => call(method, path, body, null) }
}

const transfer = (transfer_id: string, overrides: Record<string, unknown> = {}) => ({
  transfer_id,
  description: 'Gift card payment',
  purpose: 'GOOD',
  type: 'PAYMENT',
  user_id: 'user-1',
  currency: 'ETH',
  quantity: 0.1,
  rate: 2000,
  ...overrides,
})

/** Only what JSON has: plain objects, arrays, strings, finite numbers, booleans and null. */
const assertPlainJson = (value: unknown, path = 'state'): void => {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return
  if (typeof value === 'number') {
    expect(Number.isFinite(value), path).toBe(true)
    return
  }
  expect(typeof value, path).toBe('object')
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertPlainJson(item, `${path}[${i}]`))
    return
  }
  expect(Object.getPrototypeOf(value), path).toBe(Object.prototype)
  for (const [key, item] of Object.entries(value as object)) assertPlainJson(item, `${path}.${key}`)
}

const roundTrip = (state: SfoxAccountState): SfoxAccountState => JSON.parse(JSON.stringify(state))

describe('sFOX sandbox account state', () => {
  it('is a plain JSON value with transfers, wallets, restrictions, users, outbox and uploads inside', async () => {
    const { sb, call, control } = sandbox({ api_keys: [KEY] })
    await control('POST', '/_sandbox/users', { user_id: '42', api_key: KEY })
    await control('POST', '/_sandbox/users', { user_id: 'user-1', api_key: KEY })
    await control('POST', '/_sandbox/balances', { api_key: KEY, user_id: 'user-1', currency: 'eth', balance: 5 })
    await control('POST', '/_sandbox/restricted-currencies', { api_key: KEY, user_id: '42', currencies: ['BTC'] })
    await control('POST', '/_sandbox/permissions', { api_key: KEY, PAYOUT: true })
    expect((await call('POST', '/v1/enterprise/transfer', transfer('tr_json'))).status).toBe(201)
    const form = new FormData()
    form.append('user_id', 'user-1')
    form.append('files', new Blob([new Uint8Array(4)], { type: 'application/pdf' }), 'id.pdf')
    form.append('file_types', JSON.stringify({ 'id.pdf': 'ID' }))
    const upload = await sb.app.request('/v1/enterprise/ddq/upload', {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}` },
      body: form,
    })
    expect(upload.status).toBe(202)

    const state = sb.state.store.load('acct_1')!
    assertPlainJson(state)
    expect(roundTrip(state)).toEqual(state)
    expect(Object.keys(state.transfers)).toEqual(['tr_json'])
    expect(state.users).toEqual(['42', 'user-1'])
    expect(state.user_wallets).toEqual([['user-1', [['eth', { balance: 5, held: 0.1 }]]]])
    expect(state.user_restricted).toEqual([['42', ['btc']]])
    expect(state.outbox.map((r) => r.entry.transfer_id)).toEqual(['tr_json'])
    expect(state.uploads.map((r) => r.entry.name)).toEqual(['id.pdf'])
    expect(state.seq).toEqual({ transfer: 1, atx: 1_728_526, record: 2 })
  })

  it('survives JSON between create and confirm, in a fresh sandbox', async () => {
    const first = sandbox({ api_keys: [KEY] })
    await first.control('POST', '/_sandbox/balances', { api_key: KEY, user_id: 'user-1', currency: 'eth', balance: 1 })
    const created = await first.call('POST', '/v1/enterprise/transfer', transfer('tr_mid_flow'))
    expect(created.status).toBe(201)
    expect(created.body.data.transfer_status_code).toBe('PENDING')

    // The account leaves the first sandbox as text and is the only thing the second one knows.
    const saved = JSON.stringify(first.sb.state.store.load('acct_1'))
    const second = sandbox()
    second.sb.state.store.save('acct_1', JSON.parse(saved))

    const code = (await second.control('GET', '/_sandbox/outbox?transfer_id=tr_mid_flow')).body.data[0].code
    expect(code).toMatch(/^\d+$/)
    expect(
      await second.call('POST', '/v1/enterprise/transfer/confirm', { transfer_id: 'tr_mid_flow', otp: 'nope' }),
    ).toEqual({ status: 422, body: { error: 'Invalid code.' } })
    const confirmed = await second.call('POST', '/v1/enterprise/transfer/confirm', {
      transfer_id: 'tr_mid_flow',
      otp: code,
    })
    expect(confirmed.status).toBe(201)
    expect(confirmed.body.data).toMatchObject({
      transfer_id: 'tr_mid_flow',
      transfer_status_code: 'COMPLETE',
      atx_id_charged: created.body.data.atx_id_charged,
      atx_id_credited: created.body.data.atx_id_credited,
    })

    const history = await second.call('GET', '/v1/enterprise/transfer/history')
    expect(history.status).toBe(200)
    expect(history.body.data.map((t: any) => [t.transfer_id, t.transfer_status_code])).toEqual([
      ['tr_mid_flow', 'COMPLETE'],
    ])
    // The hold taken in the first sandbox is settled in the second.
    expect((await second.control('GET', '/_sandbox/balances?user_id=user-1')).body.data).toEqual([
      { account: 'acct_1', user_id: 'user-1', currency: 'eth', balance: 0.9, available: 0.9, held: 0 },
    ])
    // The first sandbox still has its own copy, untouched.
    expect((await first.call('GET', '/v1/enterprise/transfer/history')).body.data[0].transfer_status_code).toBe(
      'PENDING',
    )
  })

  it('saves in-place changes of a request (a wrong code counts) with the account', async () => {
    const { sb, call } = sandbox({ api_keys: [KEY], fixed_otp: '123456', otp_max_attempts: 2 })
    await call('POST', '/v1/enterprise/transfer', transfer('tr_attempts'))
    const saves: number[] = []
    const store = sb.state.store
    const save = store.save
    store.save = (id, state) => {
      saves.push(state.transfers.tr_attempts?.otp?.attempts ?? -1)
      save(id, state)
    }
    await call('POST', '/v1/enterprise/transfer/confirm', { transfer_id: 'tr_attempts', otp: '000000' })
    expect(saves).toEqual([1])
    const restored = roundTrip(store.load('acct_1')!)
    store.save('acct_1', restored)
    await call('POST', '/v1/enterprise/transfer/confirm', { transfer_id: 'tr_attempts', otp: '000000' })
    expect(
      await call('POST', '/v1/enterprise/transfer/confirm', { transfer_id: 'tr_attempts', otp: '123456' }),
    ).toEqual({ status: 422, body: { error: 'Too many invalid attempts. Request a new code for this transfer.' } })
  })

  it('numbers transfers and records across the accounts as one counter would', async () => {
    const { sb, call } = sandbox({ api_keys: [KEY, OTHER_KEY] })
    const atx = async (id: string, key: string) =>
      (await call('POST', '/v1/enterprise/transfer', transfer(id), key)).body.data.atx_id_charged
    expect([await atx('t1', KEY), await atx('t2', OTHER_KEY), await atx('t3', KEY)]).toEqual([
      1_728_524, 1_728_526, 1_728_528,
    ])
    expect(sb.state.outbox().map((e) => e.transfer_id)).toEqual(['t3', 't2', 't1'])
    expect(sb.state.transfersOf(sb.state.accounts()).map((t) => t.seq)).toEqual([3, 2, 1])
  })

  it('starts over on reset with only the start keys', async () => {
    const { sb, call, control } = sandbox({ api_keys: [KEY] })
    await call('POST', '/v1/enterprise/transfer', transfer('tr_reset'))
    await control('POST', '/_sandbox/accounts', {})
    expect(sb.state.accounts().map((a) => a.id)).toEqual(['acct_1', 'acct_2'])
    await control('POST', '/_sandbox/reset')
    expect(sb.state.store.list()).toEqual([
      {
        id: 'acct_1',
        api_key: KEY,
        transfers: {},
        users: [],
        permissions: {},
        transfer_permission: true,
        wallets: [],
        user_wallets: [],
        restricted: [],
        user_restricted: [],
        seq: { transfer: 0, atx: 1_728_524, record: 0 },
        outbox: [],
        uploads: [],
      },
    ])
  })
})

describe('memory store', () => {
  it('loads what was saved, by id and by key, in first-saved order', () => {
    const store = createMemorySfoxStore()
    const { sb } = sandbox()
    const a = sb.state.addAccount('key_a')
    const b = sb.state.addAccount('key_b')
    store.save(b.id, b)
    store.save(a.id, a)
    expect(store.load(a.id)).toBe(a)
    expect(store.idOfKey('key_b')).toBe(b.id)
    expect(store.load('acct_9')).toBeUndefined()
    const copy = roundTrip(b)
    store.save(b.id, copy)
    expect(store.list()).toEqual([copy, a])
    expect(store.list()[0]).toBe(copy)
    store.clear()
    expect(store.list()).toEqual([])
    expect(store.idOfKey('key_a')).toBeUndefined()
  })
})
