import { randomUUID } from 'node:crypto'
import { commit, openTx } from './effects'
import { publicKeyObject } from './keys'
import { getOwn, type Integration, newIntegrationState, type QiSandbox, setOwn } from './state'
import { accountOwner } from './store'

/**
 * Registering a partner integration (what QI's portal does after a key exchange): its P-521 public key,
 * its API-CLIENT-KEY and the accounts it may move money from. Re-registering a key updates it.
 */

export type Registered = { created: boolean; integration: Integration }
export type RegisterError = { error: string; status: 400 | 409 }

const MAX_ACCOUNTS = 100

const isHttpUrl = (v: unknown) => {
  try {
    return typeof v === 'string' && ['http:', 'https:'].includes(new URL(v).protocol)
  } catch {
    return false
  }
}

export const registerIntegration = (sb: QiSandbox, body: unknown): Registered | RegisterError => {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { error: 'body must be an object', status: 400 }
  const input = body as Record<string, unknown>
  if (typeof input.public_key_pem !== 'string') return { error: 'public_key_pem is required', status: 400 }
  try {
    publicKeyObject(input.public_key_pem)
  } catch (err) {
    return { error: (err as Error).message, status: 400 }
  }
  const apiKey = input.api_client_key ?? randomUUID()
  if (typeof apiKey !== 'string' || !apiKey.trim() || /[\s:]/.test(apiKey))
    return { error: 'api_client_key must be a non-empty string without spaces or ":"', status: 400 }
  if (input.account_keys !== undefined && input.account_count !== undefined)
    return { error: 'give account_keys or account_count, not both', status: 400 }
  if (
    input.account_keys !== undefined &&
    !(Array.isArray(input.account_keys) && input.account_keys.every((k) => typeof k === 'string' && k.trim() !== ''))
  )
    return { error: 'account_keys must be an array of non-empty strings', status: 400 }
  const count = input.account_count ?? (input.account_keys ? 0 : 1)
  if (!Number.isInteger(count) || (count as number) < 0 || (count as number) > MAX_ACCOUNTS)
    return { error: `account_count must be an integer between 0 and ${MAX_ACCOUNTS}`, status: 400 }
  if (input.webhook_url !== undefined && input.webhook_url !== null && !isHttpUrl(input.webhook_url))
    return { error: 'webhook_url must be an http(s) URL or null', status: 400 }
  const balance = input.balance
  if (
    balance !== undefined &&
    balance !== null &&
    !(typeof balance === 'number' && Number.isFinite(balance) && balance >= 0)
  )
    return { error: 'balance must be a number >= 0 or null', status: 400 }

  const accountKeys =
    (input.account_keys as string[] | undefined) ?? Array.from({ length: count as number }, () => randomUUID())
  const foreign = accountKeys.find((k) => {
    const owner = accountOwner(sb.store, k)
    return owner !== undefined && owner !== apiKey
  })
  if (foreign) return { error: `account ${foreign} belongs to another integration`, status: 409 }

  const tx = openTx(sb, apiKey)
  const existing = tx?.state.integration
  const state =
    tx?.state ??
    newIntegrationState({ api_client_key: apiKey, public_key_pem: '', webhook_url: null, account_keys: [] })
  const { integration } = state
  integration.public_key_pem = input.public_key_pem
  if (input.webhook_url !== undefined) integration.webhook_url = input.webhook_url as string | null
  for (const accountKey of accountKeys) {
    const account = getOwn(state.accounts, accountKey)
    if (account) {
      if (balance !== undefined) account.balance = balance as number | null
      continue
    }
    setOwn(state.accounts, accountKey, {
      account_key: accountKey,
      api_client_key: apiKey,
      balance: (balance as number | null | undefined) ?? null,
    })
    integration.account_keys.push(accountKey)
  }
  if (tx) commit(tx)
  else sb.store.save(apiKey, state)
  return { created: !existing, integration }
}
