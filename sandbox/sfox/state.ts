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
}

/** One API key = one sFOX partner account; transfers and users are namespaced by it. */
export type Account = {
  id: string
  api_key: string
  transfers: Map<string, Transfer>
  users: Set<string>
  permissions: Partial<Permissions>
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

// The first atx id in the confirm example (§5.3); ids only need to be unique and increasing.
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
    }
    account.transfers.set(input.transfer_id, transfer)
    return transfer
  }

  const setStatus = (transfer: Transfer, status: TransferStatus) => {
    transfer.status = status
    transfer.completed_at = status === 'COMPLETE' ? clock.now() : null
    if (status === 'COMPLETE' || status === 'CANCELED') {
      transfer.otp = null
      transfer.previous_otps = []
    }
  }

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
