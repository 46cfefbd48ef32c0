import type { Context, Hono } from 'hono'
import type { Clock } from '../shared/clock'
import type { SfoxEnv } from './auth'
import { fail, type JsonObject, readJsonObject } from './http'
import { applySettingsPatch, parseSettingsPatch, type SfoxSettings } from './settings'
import { type Account, type SfoxState, type TransferStatus, transferOf, transferStatuses } from './state'
import { transferJson } from './view'

/**
 * `/_sandbox/*`: no auth, dev/test only. Bodies are JSON; errors are `{"error": ...}`.
 * Accounts are addressed by `account` (id) or `api_key`; with neither, the only account is used.
 */
type Resolved = { ok: true; account: Account } | { ok: false; response: Response }

const resolveAccount = (c: Context, state: SfoxState, body: JsonObject): Resolved => {
  const { account, api_key } = body
  if (typeof account === 'string' && account !== '') {
    const found = state.accountById(account)
    return found ? { ok: true, account: found } : { ok: false, response: fail(c, 404, `unknown account ${account}`) }
  }
  if (typeof api_key === 'string' && api_key !== '') {
    const found = state.accountByKey(api_key)
    return found ? { ok: true, account: found } : { ok: false, response: fail(c, 404, 'unknown api_key') }
  }
  const all = state.accounts()
  if (all.length === 1) return { ok: true, account: all[0]! }
  return { ok: false, response: fail(c, 422, 'account or api_key is required') }
}

const iso = (ms: number) => new Date(ms).toISOString()

export type ControlDeps = { state: SfoxState; settings: SfoxSettings; clock: Clock; reset: () => Promise<void> }

export const mountControlRoutes = (app: Hono<SfoxEnv>, { state, settings, clock, reset }: ControlDeps) => {
  app.post('/_sandbox/accounts', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const apiKey = read.body.api_key
    if (apiKey !== undefined && (typeof apiKey !== 'string' || !/^\S+$/.test(apiKey))) {
      return fail(c, 422, 'api_key must be a non-empty string without spaces')
    }
    const existed = typeof apiKey === 'string' && state.accountByKey(apiKey) !== undefined
    const account = state.addAccount(apiKey)
    return c.json({ data: { api_key: account.api_key, account: account.id } }, existed ? 200 : 201)
  })

  app.get('/_sandbox/settings', (c) => c.json({ data: settings }))
  app.post('/_sandbox/settings', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const parsed = parseSettingsPatch(read.body)
    if (!parsed.ok) return fail(c, 422, parsed.error)
    return c.json({ data: applySettingsPatch(settings, parsed.patch) })
  })

  const clockBody = () => {
    const now = clock.now()
    return { now: iso(now), now_ms: now }
  }
  app.get('/_sandbox/clock', (c) => c.json({ data: clockBody() }))
  app.post('/_sandbox/clock', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const advance = read.body.advance_ms
    if (typeof advance !== 'number' || !Number.isFinite(advance) || advance < 0) {
      return fail(c, 422, 'advance_ms must be a non-negative number')
    }
    clock.advance(advance)
    return c.json({ data: clockBody() })
  })

  const controlView = (t: Parameters<typeof transferJson>[1]) => ({
    account: t.account,
    ...transferJson(settings, t, clock.now()),
  })

  app.get('/_sandbox/transfers', (c) => {
    const id = c.req.query('account')
    const accounts = id ? state.accounts().filter((a) => a.id === id) : state.accounts()
    return c.json({ data: state.transfersOf(accounts).map(controlView) })
  })

  app.post('/_sandbox/transfers/:transfer_id/status', async (c) => {
    const transferId = c.req.param('transfer_id')
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const status = read.body.status
    if (typeof status !== 'string' || !(transferStatuses as readonly string[]).includes(status)) {
      return fail(c, 422, `status must be one of ${transferStatuses.join(', ')}`)
    }
    let candidates: Account[]
    if (read.body.account !== undefined || read.body.api_key !== undefined) {
      const resolved = resolveAccount(c, state, read.body)
      if (!resolved.ok) return resolved.response
      candidates = [resolved.account]
    } else {
      candidates = state.accounts()
    }
    const matches = candidates.flatMap((a) => transferOf(a, transferId) ?? [])
    if (matches.length === 0) return fail(c, 404, `transfer ${transferId} not found`)
    if (matches.length > 1) return fail(c, 409, `transfer ${transferId} exists in several accounts; pass account`)
    const transfer = matches[0]!
    // A transfer forced back to PENDING/INITIATED has no live code (finishing dropped it), so confirm
    // answers "Code expired" until a resend; a pending transfer keeps its code.
    state.setStatus(transfer, status as TransferStatus)
    return c.json({ data: controlView(transfer) })
  })

  app.get('/_sandbox/users', (c) => {
    const id = c.req.query('account')
    const data = state
      .accounts()
      .filter((a) => !id || a.id === id)
      .flatMap((a) => a.users.map((user_id) => ({ account: a.id, user_id })))
    return c.json({ data })
  })
  app.post('/_sandbox/users', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const userId = read.body.user_id
    if (typeof userId !== 'string' || userId === '') return fail(c, 422, 'user_id is required')
    const resolved = resolveAccount(c, state, read.body)
    if (!resolved.ok) return resolved.response
    state.addUser(resolved.account, userId)
    return c.json({ data: { account: resolved.account.id, user_id: userId } }, 201)
  })

  app.post('/_sandbox/permissions', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const resolved = resolveAccount(c, state, read.body)
    if (!resolved.ok) return resolved.response
    for (const type of ['PAYMENT', 'PAYOUT'] as const) {
      const value = read.body[type]
      if (value === undefined) continue
      if (typeof value !== 'boolean') return fail(c, 422, `${type} must be a boolean`)
      state.setPermission(resolved.account, type, value)
    }
    return c.json({ data: { account: resolved.account.id, ...state.permissionsOf(resolved.account) } })
  })

  // The account-wide enterprise transfer permission (page 001's 403 "Partner transfer permission not granted.").
  // Body: {"api_key" | "account", "granted": boolean}. Answers {"data": {"account", "granted"}}.
  app.post('/_sandbox/transfer-permission', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const resolved = resolveAccount(c, state, read.body)
    if (!resolved.ok) return resolved.response
    const granted = read.body.granted
    if (typeof granted !== 'boolean') return fail(c, 422, 'granted must be a boolean')
    state.setTransferPermission(resolved.account, granted)
    return c.json({ data: { account: resolved.account.id, granted } })
  })

  const optionalUserId = (body: JsonObject): { ok: true; userId: string | null } | { ok: false; error: string } => {
    const userId = body.user_id
    if (userId === undefined || userId === null) return { ok: true, userId: null }
    if (typeof userId !== 'string' || userId === '') return { ok: false, error: 'user_id must be a non-empty string' }
    return { ok: true, userId }
  }
  const currencyOf = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null)

  // Balances (page 001's "Insufficient funds."). Body: {"api_key" | "account", "user_id"?, "currency", "balance"}.
  // Without user_id it is the partner's own wallet, with it the end user's. A wallet never set is unlimited;
  // "balance": null forgets it (unlimited again). Currency is lower-cased like transfers'.
  app.post('/_sandbox/balances', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const resolved = resolveAccount(c, state, read.body)
    if (!resolved.ok) return resolved.response
    const user = optionalUserId(read.body)
    if (!user.ok) return fail(c, 422, user.error)
    const currency = currencyOf(read.body.currency)?.toLowerCase()
    if (!currency) return fail(c, 422, 'currency is required')
    const balance = read.body.balance
    if (balance !== null && (typeof balance !== 'number' || !Number.isFinite(balance) || balance < 0)) {
      return fail(c, 422, 'balance must be a non-negative number or null')
    }
    const account = resolved.account
    const wallet = state.setBalance(account, user.userId, currency, balance)
    const view = wallet ? state.walletView(currency, wallet) : { currency, balance: null }
    return c.json({ data: { account: account.id, user_id: user.userId, ...view } })
  })
  app.get('/_sandbox/balances', (c) => {
    const id = c.req.query('account')
    const userId = c.req.query('user_id')
    const data = state
      .accounts()
      .filter((a) => !id || a.id === id)
      .flatMap((a) => [
        ...a.wallets.map(([currency, w]) => ({
          account: a.id,
          user_id: null as string | null,
          ...state.walletView(currency, w),
        })),
        ...a.user_wallets.flatMap(([user_id, wallets]) =>
          wallets.map(([currency, w]) => ({ account: a.id, user_id, ...state.walletView(currency, w) })),
        ),
      ])
      .filter((row) => userId === undefined || row.user_id === userId)
    return c.json({ data })
  })

  // Restricted currencies (page 001's "Restricted currency for partner or end user.").
  // Body: {"api_key" | "account", "user_id"?, "currencies": ["eth", ...]}; replaces the list ([] clears it).
  app.post('/_sandbox/restricted-currencies', async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const resolved = resolveAccount(c, state, read.body)
    if (!resolved.ok) return resolved.response
    const user = optionalUserId(read.body)
    if (!user.ok) return fail(c, 422, user.error)
    const raw = read.body.currencies
    const currencies = Array.isArray(raw) ? raw.map(currencyOf) : null
    if (!currencies || currencies.some((x) => x === null)) {
      return fail(c, 422, 'currencies must be an array of non-empty strings')
    }
    const set = new Set(currencies.map((x) => x!.toLowerCase()))
    const account = resolved.account
    state.setRestricted(account, user.userId, [...set])
    return c.json({ data: { account: account.id, user_id: user.userId, currencies: [...set].sort() } })
  })
  app.get('/_sandbox/restricted-currencies', (c) => {
    const id = c.req.query('account')
    const data = state
      .accounts()
      .filter((a) => !id || a.id === id)
      .flatMap((a) => [
        { account: a.id, user_id: null as string | null, currencies: [...a.restricted].sort() },
        ...a.user_restricted.map(([user_id, list]) => ({ account: a.id, user_id, currencies: [...list].sort() })),
      ])
    return c.json({ data })
  })

  app.get('/_sandbox/outbox', (c) => {
    const transferId = c.req.query('transfer_id')
    const account = c.req.query('account')
    const data = state
      .outbox()
      .filter((e) => (!transferId || e.transfer_id === transferId) && (!account || e.account === account))
    return c.json({ data })
  })

  app.get('/_sandbox/uploads', (c) => {
    const userId = c.req.query('user_id')
    const account = c.req.query('account')
    const data = state.uploads().filter((u) => (!userId || u.user_id === userId) && (!account || u.account === account))
    return c.json({ data })
  })

  app.post('/_sandbox/reset', async (c) => {
    await reset()
    return c.json({ data: { success: true } })
  })
}
