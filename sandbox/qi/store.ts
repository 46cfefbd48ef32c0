import {
  type Account,
  getOwn,
  type Integration,
  type IntegrationState,
  type QiStore,
  type Ted,
  type TokenRecord,
  type WebhookRecord,
  withoutSeq,
} from './state'

/**
 * The in-memory `QiStore` of the Node sandbox. By default it keeps the live objects (what `save` was given is
 * what `load` returns); with `serialize: true` every row is kept as a JSON string, as a database would, so
 * nothing can lean on object identity between loads.
 */
export const createMemoryStore = (options: { serialize?: boolean; lastSeq?: number } = {}): QiStore => {
  const rows = new Map<string, IntegrationState | string>()
  // `lastSeq`: where a store seeded with saved states (the simulator's) carries on numbering.
  let seq = options.lastSeq ?? 0
  return {
    load: (apiClientKey) => {
      const row = rows.get(apiClientKey)
      return typeof row === 'string' ? (JSON.parse(row) as IntegrationState) : row
    },
    save: (apiClientKey, state) => {
      rows.set(apiClientKey, options.serialize ? JSON.stringify(state) : state)
    },
    keys: () => [...rows.keys()],
    nextSeq: () => ++seq,
    clear: () => {
      rows.clear()
      seq = 0
    },
  }
}

/** The highest sandbox-wide number (`QiStore.nextSeq`) one state holds, 0 when it holds none. */
export const lastSeqOf = (state: IntegrationState): number =>
  [...Object.values(state.teds), ...state.tokens, ...state.webhooks].reduce((last, r) => Math.max(last, r.seq), 0)

/** The integration whose state holds the account, if any. */
export const accountOwner = (store: QiStore, accountKey: string): string | undefined =>
  store.keys().find((key) => getOwn(store.load(key)?.accounts ?? {}, accountKey) !== undefined)

/** The integration whose state holds the TED (control routes address TEDs by ted_key alone). */
export const tedOwner = (store: QiStore, tedKey: string): string | undefined =>
  store.keys().find((key) => getOwn(store.load(key)?.teds ?? {}, tedKey) !== undefined)

const bySeq = (a: { seq: number }, b: { seq: number }) => a.seq - b.seq

/**
 * A read-only view across integrations for tests (`createQiSandbox().state`): fresh Maps and arrays built from
 * the store at every access; it does not advance anything.
 */
export const inspectStore = (store: QiStore) => {
  const states = () => store.keys().flatMap((key) => store.load(key) ?? [])
  return {
    get integrations(): Map<string, Integration> {
      return new Map(states().map((s) => [s.integration.api_client_key, s.integration]))
    },
    get accounts(): Map<string, Account> {
      return new Map(
        states().flatMap((s) => s.integration.account_keys.map((k) => [k, getOwn(s.accounts, k)!] as const)),
      )
    },
    get teds(): Map<string, Ted> {
      const teds = states()
        .flatMap((s) => Object.values(s.teds))
        .sort(bySeq)
      return new Map(teds.map((t) => [t.ted_key, t]))
    },
    /** Oldest first. */
    get tokens(): TokenRecord[] {
      return states()
        .flatMap((s) => s.tokens)
        .sort(bySeq)
        .map(withoutSeq)
    },
    /** In sending order. */
    get webhooks(): WebhookRecord[] {
      return states()
        .flatMap((s) => s.webhooks)
        .sort(bySeq)
        .map(withoutSeq)
    },
  }
}

export type QiStateView = ReturnType<typeof inspectStore>
