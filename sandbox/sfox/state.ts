import { randomBytes } from 'node:crypto'
import type { Clock } from '../shared/clock'
import type { Permissions, SfoxSettings, TransferType } from './settings'

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
 * One currency of a wallet the control API set (`POST /_sandbox/balances`). A wallet that was never set is
 * unlimited: it never refuses and is not listed. available = balance - held.
 */
export type Wallet = { balance: number; held: number }
export type Wallets = Map<string, Wallet>

/** One API key = one sFOX partner account; transfers and users are namespaced by it. */
export type Account = {
  id: string
  api_key: string
  transfers: Map<string, Transfer>
  users: Set<string>
  permissions: Partial<Permissions>
  /** The account-wide enterprise transfer permission (page 001's 403); on unless the control API turns it off. */
  transfer_permission: boolean
  /** The partner's own (master account) wallets, by lower-case currency. */
  wallets: Wallets
  /** End users' wallets: user_id -> currency -> wallet. */
  user_wallets: Map<string, Wallets>
  /** Currencies restricted for the partner (lower-case). */
  restricted: Set<string>
  /** Currencies restricted per end user: user_id -> currencies. */
  user_restricted: Map<string, Set<string>>
}

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

// The first atx id in the create (page 001/003) and confirm (§5.3) examples; ids only need to be unique and increasing.
const ATX_ID_START = 1_728_524

export const createSfoxState = (settings: SfoxSettings, clock: Clock, startKeys: readonly string[] = []) => {
  let byId = new Map<string, Account>()
  let byKey = new Map<string, Account>()
  let accountSeq = 0
  let transferSeq = 0
  let atxSeq = ATX_ID_START
  let outbox: OutboxEntry[] = []
  let uploads: UploadRecord[] = []

  const addAccount = (apiKey?: string): Account => {
    const existing = apiKey ? byKey.get(apiKey) : undefined
    if (existing) return existing
    const account: Account = {
      id: `acct_${++accountSeq}`,
      api_key: apiKey ?? `sfox_sandbox_${randomBytes(16).toString('hex')}`,
      transfers: new Map(),
      users: new Set(),
      permissions: {},
      transfer_permission: true,
      wallets: new Map(),
      user_wallets: new Map(),
      restricted: new Set(),
      user_restricted: new Map(),
    }
    byId.set(account.id, account)
    byKey.set(account.api_key, account)
    return account
  }

  const createTransfer = (account: Account, input: TransferInput, status: TransferStatus): Transfer => {
    const now = clock.now()
    const transfer: Transfer = {
      ...input,
      seq: ++transferSeq,
      account: account.id,
      status,
      atx_id_charged: atxSeq++,
      atx_id_credited: atxSeq++,
      created_at: now,
      completed_at: status === 'COMPLETE' ? now : null,
      otp: null,
      previous_otps: [],
      hold: 'none',
    }
    account.transfers.set(input.transfer_id, transfer)
    reserve(account, transfer)
    if (status === 'COMPLETE') settle(account, transfer)
    return transfer
  }

  const setStatus = (transfer: Transfer, status: TransferStatus) => {
    transfer.status = status
    transfer.completed_at = status === 'COMPLETE' ? clock.now() : null
    if (status === 'COMPLETE' || status === 'CANCELED') {
      transfer.otp = null
      transfer.previous_otps = []
    }
    const account = byId.get(transfer.account)
    if (account && status === 'COMPLETE') settle(account, transfer)
    if (account && status === 'CANCELED') release(account, transfer)
  }

  // ----- balances -----
  // [INFERRED] page 001/003: "Payment (user -> master account)" debits the end user's wallet and credits the
  // partner's; "Payout (master account -> user)" debits the partner's and credits the end user's. The create
  // reserves the quantity on the debited wallet (§5.5: a started PAYMENT's funds are held until processed or
  // cancelled); completion moves it to the other side, cancellation releases it. A transfer forced back to
  // PENDING after completing keeps its settled funds. Amounts are rounded to 8 decimals.
  const round = (n: number) => Math.round(n * 1e8) / 1e8
  const userWallets = (account: Account, userId: string) => {
    let wallets = account.user_wallets.get(userId)
    if (!wallets) account.user_wallets.set(userId, (wallets = new Map()))
    return wallets
  }
  const sides = (account: Account, t: TransferInput) => {
    const user = account.user_wallets.get(t.user_id)?.get(t.currency)
    const partner = account.wallets.get(t.currency)
    return t.type === 'PAYMENT' ? { debit: user, credit: partner } : { debit: partner, credit: user }
  }
  const available = (w: Wallet) => round(w.balance - w.held)
  /** Whether the debited wallet (if it was set) has at least `quantity` available. */
  const hasFunds = (account: Account, t: TransferInput) => {
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
  const setBalance = (account: Account, userId: string | null, currency: string, balance: number | null) => {
    const wallets = userId === null ? account.wallets : userWallets(account, userId)
    if (balance === null) {
      wallets.delete(currency)
      return null
    }
    const wallet = wallets.get(currency) ?? { balance: 0, held: 0 }
    wallet.balance = round(balance)
    wallets.set(currency, wallet)
    return wallet
  }
  const walletView = (currency: string, w: Wallet) => ({
    currency,
    balance: w.balance,
    available: available(w),
    held: w.held,
  })
  const isRestricted = (account: Account, t: TransferInput) =>
    account.restricted.has(t.currency) || (account.user_restricted.get(t.user_id)?.has(t.currency) ?? false)

  const reset = () => {
    byId = new Map()
    byKey = new Map()
    accountSeq = 0
    transferSeq = 0
    atxSeq = ATX_ID_START
    outbox = []
    uploads = []
    startKeys.forEach((key) => addAccount(key))
  }

  startKeys.forEach((key) => addAccount(key))

  return {
    clock,
    addAccount,
    accountByKey: (key: string) => byKey.get(key),
    accountById: (id: string) => byId.get(id),
    accounts: () => [...byId.values()],
    permissionsOf: (account: Account): Permissions => ({ ...settings.permissions_default, ...account.permissions }),
    isKnownUser: (account: Account, userId: string) =>
      account.users.has(userId) || settings.known_users_default.includes(userId),
    createTransfer,
    setStatus,
    hasFunds,
    isRestricted,
    setBalance,
    walletView,
    /** Newest first. */
    transfersOf: (accounts: Account[]) =>
      accounts.flatMap((a) => [...a.transfers.values()]).sort((x, y) => y.created_at - x.created_at || y.seq - x.seq),
    recordEmail: (entry: OutboxEntry) => void outbox.push(entry),
    /** Newest first. */
    outbox: () => outbox.slice().reverse(),
    recordUpload: (record: UploadRecord) => void uploads.push(record),
    /** Newest first. */
    uploads: () => uploads.slice().reverse(),
    reset,
  }
}

export type SfoxState = ReturnType<typeof createSfoxState>
