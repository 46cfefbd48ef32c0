import type { SfoxAccountState } from './state'

// Where each account's whole state (one plain JSON value) lives: in memory here; a database row per account later.

type Awaitable<T> = T | Promise<T>

/** Loads and saves one account's state by account id. A database-backed store may answer asynchronously. */
export type SfoxStateStore = {
  load: (account: string) => Awaitable<SfoxAccountState | undefined>
  save: (account: string, state: SfoxAccountState) => Awaitable<void>
}

/**
 * The in-memory store: an `SfoxStateStore` that answers synchronously, plus the lookups the multi-account facade
 * (`createSfoxState`) needs.
 */
export type MemorySfoxStateStore = {
  load: (account: string) => SfoxAccountState | undefined
  save: (account: string, state: SfoxAccountState) => void
  /** The account id behind an enterprise key. */
  idOfKey: (apiKey: string) => string | undefined
  /** Every account, in the order each was first saved. */
  list: () => SfoxAccountState[]
  clear: () => void
}

export const createMemorySfoxStore = (): MemorySfoxStateStore & SfoxStateStore => {
  const byId = new Map<string, SfoxAccountState>()
  const idByKey = new Map<string, string>()
  return {
    load: (account) => byId.get(account),
    save: (account, state) => {
      const previous = byId.get(account)
      if (previous && previous.api_key !== state.api_key) idByKey.delete(previous.api_key)
      byId.set(account, state)
      idByKey.set(state.api_key, account)
    },
    idOfKey: (apiKey) => idByKey.get(apiKey),
    list: () => [...byId.values()],
    clear: () => {
      byId.clear()
      idByKey.clear()
    },
  }
}
