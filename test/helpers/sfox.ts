import { startSfoxSandbox } from '../../sandbox/sfox/server'
import type { FaultInput } from '../../sandbox/shared/faults'

export type SfoxSandbox = Awaited<ReturnType<typeof startSfoxSandbox>> & ReturnType<typeof sfoxControl>

const json = async (res: Response) => {
  const body = (await res.json()) as any
  if (!res.ok) throw new Error(`sandbox control ${res.status}: ${JSON.stringify(body)}`)
  return body
}

/** The sandbox's control API (/_sandbox), as tests use it. */
export const sfoxControl = (url: string) => {
  const post = (path: string, body: unknown) =>
    fetch(`${url}/_sandbox${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(json)
  const get = (path: string) => fetch(`${url}/_sandbox${path}`).then(json)
  return {
    /** A fresh sFOX account (its own enterprise key), so tests do not see each other's transfers. */
    newAccount: async () => (await post('/accounts', {})).data as { api_key: string; account: string },
    codes: async (reference: string) =>
      (await get(`/outbox?transfer_id=${encodeURIComponent(reference)}`)).data as { code: string; reason: string }[],
    latestCode: async (reference: string) => {
      const codes = (await get(`/outbox?transfer_id=${encodeURIComponent(reference)}`)).data as { code: string }[]
      if (!codes[0]) throw new Error(`no code was sent for ${reference}`)
      return codes[0].code
    },
    requests: async (filter: { method?: string; path?: string; account?: string }) => {
      const query = new URLSearchParams()
      if (filter.method) query.set('method', filter.method)
      if (filter.path) query.set('path', filter.path)
      if (filter.account) query.set('credential', filter.account)
      return (await get(`/requests?${query}`)).data as { method: string; path: string; body: any; status: number }[]
    },
    fault: (rule: FaultInput & { apiKey?: string }) => {
      const { apiKey, ...rest } = rule
      return post('/faults', apiKey ? { ...rest, headers: { authorization: `Bearer ${apiKey}` } } : rest)
    },
    clearFaults: () => fetch(`${url}/_sandbox/faults`, { method: 'DELETE' }),
    settings: (patch: Record<string, unknown>) => post('/settings', patch),
    advanceClock: (ms: number) => post('/clock', { advance_ms: ms }),
    setStatus: (transferId: string, status: string, account?: string) =>
      post(`/transfers/${transferId}/status`, { status, account }),
    transfers: async (account: string) => (await get(`/transfers?account=${account}`)).data as any[],
    addUser: (userId: string, account: string) => post('/users', { user_id: userId, account }),
    /** Grants or revokes the account's enterprise transfer permission (403 "Partner transfer permission not granted."). */
    setTransferPermission: (account: string, granted: boolean) => post('/transfer-permission', { account, granted }),
    /** Sets a wallet (the partner's, or the end user's with userId); null makes it unlimited again (the default). */
    setBalance: (account: string, currency: string, balance: number | null, userId?: string) =>
      post('/balances', { account, currency, balance, ...(userId ? { user_id: userId } : {}) }),
    /** Replaces the restricted currencies of the account (or of one end user with userId); [] clears them. */
    restrictCurrencies: (account: string, currencies: string[], userId?: string) =>
      post('/restricted-currencies', { account, currencies, ...(userId ? { user_id: userId } : {}) }),
    uploads: async (account: string, userId?: string) =>
      (await get(`/uploads?account=${account}${userId ? `&user_id=${encodeURIComponent(userId)}` : ''}`)).data as {
        name: string
        mime: string
        size: number
        sha256: string
        document_type: string
        ddq_id: string | null
      }[],
  }
}

export const startSfox = async (options: Parameters<typeof startSfoxSandbox>[0] = {}): Promise<SfoxSandbox> => {
  const sandbox = await startSfoxSandbox({ port: 0, ...options })
  return Object.assign(sandbox, sfoxControl(sandbox.url))
}

export const paymentBody = (transferId: string, overrides: Record<string, unknown> = {}) => ({
  transfer_id: transferId,
  provider: 'sfox',
  sfox: {
    user_id: 'user-1',
    type: 'PAYMENT',
    purpose: 'GOOD',
    currency: 'ETH',
    quantity: '0.1',
    rate: '2000',
    description: 'Gift card',
    ...overrides,
  },
})
