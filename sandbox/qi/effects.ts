import { advanceDue } from './lifecycle'
import {
  type Integration,
  type IntegrationState,
  newIntegrationState,
  type QiSandbox,
  type WebhookRecord,
} from './state'
import { deliverWebhook } from './webhooks'

/**
 * How state changes happen: a `Tx` loads one integration's state (settling whatever is due, `advanceDue`),
 * changes it synchronously and collects the outside world's part as `effects`; `commit` saves the state,
 * then runs the effects. Nothing holds on to state objects between transactions, so the state can live in any
 * `QiStore` (a JSON row per integration) and a runtime that handles one request at a time can run it.
 */

export type Effect =
  /** POST the webhook already recorded in the state (same id); its outcome is written back to that record. */
  | { type: 'webhook'; record: WebhookRecord }
  /**
   * A TED of the integration is due to settle at `at` (wall-clock ms). Only a hint: loading the state settles it
   * anyway; the Node sandbox sets a timer so the "sent" webhook goes out on time without any request.
   */
  | { type: 'wake'; api_client_key: string; at: number }

export type Tx = {
  sb: QiSandbox
  apiKey: string
  state: IntegrationState
  effects: Effect[]
  /** A stand-in for an integration that is gone (reset mid-request): never saved. */
  detached?: boolean
}

/** Loads an integration's state for a change or a read, with due settlements applied as of `now`. */
export const openTx = (sb: QiSandbox, apiKey: string, now = Date.now()): Tx | undefined => {
  const state = sb.store.load(apiKey)
  if (!state) return undefined
  const tx: Tx = { sb, apiKey, state, effects: [] }
  advanceDue(tx, now)
  return tx
}

/** An empty, unsaved state for a request whose integration disappeared after authentication. */
export const detachedTx = (sb: QiSandbox, integration: Integration): Tx => ({
  sb,
  apiKey: integration.api_client_key,
  state: newIntegrationState({ ...integration, account_keys: [] }),
  effects: [],
  detached: true,
})

/** Saves the state and runs its effects; gives each webhook's delivery by record id (see `runEffects`). */
export const commit = (tx: Tx): Map<string, Promise<WebhookRecord>> => {
  if (!tx.detached) tx.sb.store.save(tx.apiKey, tx.state)
  return runEffects(tx.sb, tx.effects.splice(0))
}

/** Loads every integration's state for a read (settling what is due) and commits each; in registration order. */
export const readAll = (sb: QiSandbox): IntegrationState[] =>
  sb.store.keys().flatMap((key) => {
    const tx = openTx(sb, key)
    if (!tx) return []
    commit(tx)
    return [tx.state]
  })

/** Runs `fn` on the integration's state and commits even when `fn` throws (an error answer after a change). */
export const withState = <T>(sb: QiSandbox, integration: Integration, fn: (tx: Tx) => T): T => {
  const tx = openTx(sb, integration.api_client_key) ?? detachedTx(sb, integration)
  try {
    return fn(tx)
  } finally {
    commit(tx)
  }
}

/**
 * Node's effect runner: webhooks are POSTed at once (concurrently; each delivery, by record id, resolves with the
 * record once answered and never rejects), wake-ups become timers.
 */
export const runEffects = (sb: QiSandbox, effects: Effect[]): Map<string, Promise<WebhookRecord>> => {
  const deliveries = new Map<string, Promise<WebhookRecord>>()
  for (const effect of effects) {
    if (effect.type === 'webhook') deliveries.set(effect.record.id, deliverWebhook(sb, effect.record))
    else scheduleWake(sb, effect.api_client_key, effect.at)
  }
  return deliveries
}

/** Loads (so settles) the integration's state at `at`; a timer that fires early is set again. */
const scheduleWake = (sb: QiSandbox, apiKey: string, at: number): void => {
  const timer = setTimeout(
    () => {
      sb.timers.delete(timer)
      if (Date.now() < at) return scheduleWake(sb, apiKey, at)
      const tx = openTx(sb, apiKey)
      if (tx) commit(tx)
    },
    Math.max(0, at - Date.now()),
  )
  timer.unref?.()
  sb.timers.add(timer)
}
