import { randomBytes } from 'node:crypto'
import type { Clock } from '../shared/clock'
import type { Permissions, SfoxSettings, TransferType } from './settings'
import { createMemorySfoxStore, type MemorySfoxStateStore } from './store'

export type TransferStatus = 'PENDING' | 'INITIATED' | 'COMPLETE' | 'CANCELED'
export const transferStatuses: readonly TransferStatus[] = ['PENDING', 'INITIATED', 'COMPLETE', 'CANCELED']

/** The one live code of a pending PAYMENT; a resend replaces it. */
export type Otp = { code: string; sent_at: number; expires_at: number; attempts: number }

export type TransferInput = {
  transfer_id: string
  description: string
  purpose: 'GOOD' | 'SERVICE'
  type: TransferType
  user_id: string
  currency: string
  quantity: number
  rate: number
}

export type Transfer = TransferInput & {
  seq: number
  account: string
  status: TransferStatus
  atx_id_charged: number
  atx_id_credited: number
  created_at: number
  completed_at: number | null
  otp: Otp | null
  /** Codes a resend did not invalidate (only with `resend_invalidates_previous_code: false`). */
  previous_otps: Otp[]
  /** Funds reserved on the debited wallet at create, until the transfer completes or is cancelled. */
  hold: 'none' | 'held' | 'settled' | 'released'
}

/**
 * An insertion-ordered map kept as JSON: [key, value] pairs. The control API lists these in insertion order, which
 * a Record would not keep for integer-like keys (a user id "42" would come first).
 */
export type Entries<V> = [string, V][]

/**
 * One currency of a wallet the control API set (`POST /_sandbox/balances`). A wallet that was never set is
 * unlimited: it never refuses and is not listed. available = balance - held.
 */
export type Wallet = { balance: number; held: number }
export type Wallets = Entries<Wallet>

export type OutboxEntry = {
  transfer_id: string
  account: string
  user_id: string
  to: string
  code: string
  sent_at: string
  expires_at: string
  reason: 'created' | 'resend'
}

/** What the sandbox keeps of an accepted ddq upload: never the bytes. */
export type UploadRecord = {
  account: string
  user_id: string
  ddq_id: string | null
  name: string
  mime: string
  size: number
  sha256: string
  document_type: string
  received_at: string
}

/** The numbers an account hands out. `createSfoxState` keeps them global across its accounts. */
export type Sequences = {
  /** The last transfer `seq` (orders transfers created in the same millisecond). */
  transfer: number
  /** The next atx id. */
  atx: number
  /** The last outbox / upload record `seq` (their listing order). */
  record: number
}

/** An outbox or upload entry with the `seq` that orders it among every account's entries. */
export type Recorded<T> = { seq: number; entry: T }

/**
 * One API key = one sFOX partner account; transfers and users are namespaced by it. The whole account is one plain
 * JSON value (Records, arrays, strings, numbers, booleans, null), so a store can keep it as a database row.
 */
export type SfoxAccountState = {
  id: string
  api_key: string
  /** By transfer_id; read with `transferOf` (a key such as "constructor" must not hit Object.prototype). */
  transfers: Record<string, Transfer>
  users: string[]
  permissions: Partial<Permissions>
  /** The account-wide enterprise transfer permission (page 001's 403); on unless the control API turns it off. */
  transfer_permission: boolean
  /** The partner's own (master account) wallets, by lower-case currency. */
  wallets: Wallets
  /** End users' wallets: user_id -> currency -> wallet. */
  user_wallets: Entries<Wallets>
  /** Currencies restricted for the partner (lower-case, no duplicates). */
  restricted: string[]
  /** Currencies restricted per end user: user_id -> currencies. */
  user_restricted: Entries<string[]>
  seq: Sequences
  /** Emails with transfer codes, oldest first. */
  outbox: Recorded<OutboxEntry>[]
  /** Accepted ddq uploads, oldest first. */
  uploads: Recorded<UploadRecord>[]
}
export type Account = SfoxAccountState

// The first atx id in the create (page 001/003) and confirm (§5.3) examples; ids only need to be unique and increasing.
const ATX_ID_START = 1_728_524

export const entryOf = <V>(entries: Entries<V>, key: string): V | undefined => entries.find(([k]) => k === key)?.[1]
/** Replaces the value in place (the key keeps its position) or appends it. */
const setEntry = <V>(entries: Entries<V>, key: string, value: V) => {
  const at = entries.findIndex(([k]) => k === key)
  if (at < 0) entries.push([key, value])
  else entries[at]![1] = value
}
const deleteEntry = <V>(entries: Entries<V>, key: string) => {
  const at = entries.findIndex(([k]) => k === key)
  if (at >= 0) entries.splice(at, 1)
}

export const transferOf = (account: Account, transferId: string): Transfer | undefined =>
  Object.hasOwn(account.transfers, transferId) ? account.transfers[transferId] : undefined
// defineProperty, not assignment: an own "__proto__" key, as JSON.parse would restore it.
const putTransfer = (account: Account, transfer: Transfer) =>
  Object.defineProperty(account.transfers, transfer.transfer_id, {
    value: transfer,
    enumerable: true,
    writable: true,
    configurable: true,
  })

export const newAccountState = (id: string, apiKey: string): SfoxAccountState => ({
  id,
  api_key: apiKey,
  transfers: {},
  users: [],
  permissions: {},
  transfer_permission: true,
  wallets: [],
  user_wallets: [],
  restricted: [],
  user_restricted: [],
  seq: { transfer: 0, atx: ATX_ID_START, record: 0 },
  outbox: [],
  uploads: [],
})

// ----- balances -----
// [INFERRED] page 001/003: "Payment (user -> master account)" debits the end user's wallet and credits the
// partner's; "Payout (master account -> user)" debits the partner's and credits the end user's. The create
// reserves the quantity on the debited wallet (§5.5: a started PAYMENT's funds are held until processed or
// cancelled); completion moves it to the other side, cancellation releases it. A transfer forced back to
// PENDING after completing keeps its settled funds. Amounts are rounded to 8 decimals.
const round = (n: number) => Math.round(n * 1e8) / 1e8
const userWallets = (account: Account, userId: string) => {
  let wallets = entryOf(account.user_wallets, userId)
  if (!wallets) setEntry(account.user_wallets, userId, (wallets = []))
  return wallets
}
const sides = (account: Account, t: TransferInput) => {
  const user = entryOf(entryOf(account.user_wallets, t.user_id) ?? [], t.currency)
  const partner = entryOf(account.wallets, t.currency)
  return t.type === 'PAYMENT' ? { debit: user, credit: partner } : { debit: partner, credit: user }
}
const available = (w: Wallet) => round(w.balance - w.held)
/** Whether the debited wallet (if it was set) has at least `quantity` available. */
export const hasFunds = (account: Account, t: TransferInput) => {
  const { debit } = sides(account, t)
  return !debit || available(debit) >= t.quantity
}
const reserve = (account: Account, t: Transfer) => {
  const { debit } = sides(account, t)
  if (!debit) return
  debit.held = round(debit.held + t.quantity)
  t.hold = 'held'
}
const settle = (account: Account, t: Transfer) => {
  if (t.hold === 'settled') return
  const { debit, credit } = sides(account, t)
  if (debit) {
    // Without a hold (the wallet was set after the create, or a forced status), the balance is debited as is.
    if (t.hold === 'held') debit.held = round(Math.max(0, debit.held - t.quantity))
    debit.balance = round(debit.balance - t.quantity)
  }
  if (credit) credit.balance = round(credit.balance + t.quantity)
  t.hold = 'settled'
}
const release = (account: Account, t: Transfer) => {
  if (t.hold !== 'held') return
  const { debit } = sides(account, t)
  if (debit) debit.held = round(Math.max(0, debit.held - t.quantity))
  t.hold = 'released'
}
/** Sets a wallet's total balance (held amounts stay); null forgets the wallet (unlimited again). */
export const setBalance = (account: Account, userId: string | null, currency: string, balance: number | null) => {
  const wallets = userId === null ? account.wallets : userWallets(account, userId)
  if (balance === null) {
    deleteEntry(wallets, currency)
    return null
  }
  const wallet = entryOf(wallets, currency) ?? { balance: 0, held: 0 }
  wallet.balance = round(balance)
  setEntry(wallets, currency, wallet)
  return wallet
}
export const walletView = (currency: string, w: Wallet) => ({
  currency,
  balance: w.balance,
  available: available(w),
  held: w.held,
})
export const isRestricted = (account: Account, t: TransferInput) =>
  account.restricted.includes(t.currency) ||
  (entryOf(account.user_restricted, t.user_id)?.includes(t.currency) ?? false)
/** Replaces the restricted currencies of the partner (userId null) or of one end user ([] forgets the user's). */
export const setRestricted = (account: Account, userId: string | null, currencies: string[]) => {
  if (userId === null) account.restricted = currencies
  else if (currencies.length === 0) deleteEntry(account.user_restricted, userId)
  else setEntry(account.user_restricted, userId, currencies)
}

// ----- transfers -----
export const createTransfer = (account: Account, input: TransferInput, status: TransferStatus, now: number) => {
  const transfer: Transfer = {
    ...input,
    seq: ++account.seq.transfer,
    account: account.id,
    status,
    atx_id_charged: account.seq.atx++,
    atx_id_credited: account.seq.atx++,
    created_at: now,
    completed_at: status === 'COMPLETE' ? now : null,
    otp: null,
    previous_otps: [],
    hold: 'none',
  }
  putTransfer(account, transfer)
  reserve(account, transfer)
  if (status === 'COMPLETE') settle(account, transfer)
  return transfer
}

/** `account` is the transfer's own; without it only the status changes (no funds move). */
export const setStatus = (account: Account | undefined, transfer: Transfer, status: TransferStatus, now: number) => {
  transfer.status = status
  transfer.completed_at = status === 'COMPLETE' ? now : null
  if (status === 'COMPLETE' || status === 'CANCELED') {
    transfer.otp = null
    transfer.previous_otps = []
  }
  if (account && status === 'COMPLETE') settle(account, transfer)
  if (account && status === 'CANCELED') release(account, transfer)
}

export const addUser = (account: Account, userId: string) => {
  if (!account.users.includes(userId)) account.users.push(userId)
}
export const recordEmail = (account: Account, entry: OutboxEntry) =>
  void account.outbox.push({ seq: ++account.seq.record, entry })
export const recordUpload = (account: Account, record: UploadRecord) =>
  void account.uploads.push({ seq: ++account.seq.record, entry: record })

/** Newest first. */
const newestFirst = <T>(records: Recorded<T>[]) => records.sort((x, y) => y.seq - x.seq).map((r) => r.entry)

/**
 * The multi-account sandbox on top of a store of account states. Numbers stay global across its accounts (atx ids
 * unique, listings in creation order): an account about to hand one out first catches up with the highest any
 * account has reached, which is what a single counter shared by all accounts would give.
 */
export const createSfoxState = (
  settings: SfoxSettings,
  clock: Clock,
  startKeys: readonly string[] = [],
  store: MemorySfoxStateStore = createMemorySfoxStore(),
) => {
  const save = (account: Account) => store.save(account.id, account)
  const catchUp = (account: Account) => {
    for (const other of store.list()) {
      account.seq.transfer = Math.max(account.seq.transfer, other.seq.transfer)
      account.seq.atx = Math.max(account.seq.atx, other.seq.atx)
      account.seq.record = Math.max(account.seq.record, other.seq.record)
    }
  }
  /** Runs a change to one account and saves it. */
  const change = <T>(account: Account, fn: () => T, numbered = false): T => {
    if (numbered) catchUp(account)
    const result = fn()
    save(account)
    return result
  }

  const accountByKey = (key: string) => {
    const id = store.idOfKey(key)
    return id === undefined ? undefined : store.load(id)
  }
  const addAccount = (apiKey?: string): Account => {
    const existing = apiKey ? accountByKey(apiKey) : undefined
    if (existing) return existing
    // Ids are only ever handed out in order, so one past the highest acct_N is the next.
    const last = Math.max(0, ...store.list().map((a) => Number(/^acct_(\d+)$/.exec(a.id)?.[1] ?? 0)))
    const account = newAccountState(`acct_${last + 1}`, apiKey ?? `sfox_sandbox_${randomBytes(16).toString('hex')}`)
    save(account)
    return account
  }

  const reset = () => {
    store.clear()
    startKeys.forEach((key) => addAccount(key))
  }

  startKeys.forEach((key) => addAccount(key))

  return {
    clock,
    store,
    save,
    addAccount,
    accountByKey,
    accountById: (id: string) => store.load(id),
    accounts: () => store.list(),
    permissionsOf: (account: Account): Permissions => ({ ...settings.permissions_default, ...account.permissions }),
    isKnownUser: (account: Account, userId: string) =>
      settings.every_user_known || account.users.includes(userId) || settings.known_users_default.includes(userId),
    addUser: (account: Account, userId: string) => change(account, () => addUser(account, userId)),
    setPermission: (account: Account, type: TransferType, enabled: boolean) =>
      change(account, () => void (account.permissions[type] = enabled)),
    setTransferPermission: (account: Account, granted: boolean) =>
      change(account, () => void (account.transfer_permission = granted)),
    createTransfer: (account: Account, input: TransferInput, status: TransferStatus) =>
      change(account, () => createTransfer(account, input, status, clock.now()), true),
    setStatus: (transfer: Transfer, status: TransferStatus) => {
      const account = store.load(transfer.account)
      setStatus(account, transfer, status, clock.now())
      if (account) save(account)
    },
    hasFunds,
    isRestricted,
    setBalance: (account: Account, userId: string | null, currency: string, balance: number | null) =>
      change(account, () => setBalance(account, userId, currency, balance)),
    setRestricted: (account: Account, userId: string | null, currencies: string[]) =>
      change(account, () => setRestricted(account, userId, currencies)),
    walletView,
    /** Newest first. */
    transfersOf: (accounts: Account[]) =>
      accounts.flatMap((a) => Object.values(a.transfers)).sort((x, y) => y.created_at - x.created_at || y.seq - x.seq),
    recordEmail: (entry: OutboxEntry) => {
      const account = store.load(entry.account)
      if (account) change(account, () => recordEmail(account, entry), true)
    },
    /** Newest first. */
    outbox: () => newestFirst(store.list().flatMap((a) => a.outbox)),
    recordUpload: (record: UploadRecord) => {
      const account = store.load(record.account)
      if (account) change(account, () => recordUpload(account, record), true)
    },
    /** Newest first. */
    uploads: () => newestFirst(store.list().flatMap((a) => a.uploads)),
    reset,
  }
}

export type SfoxState = ReturnType<typeof createSfoxState>
