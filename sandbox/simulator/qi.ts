import {
  SIMULATOR_QI_CLIENT_PUBLIC_KEY_PEM,
  SIMULATOR_QI_PRIVATE_KEY_PEM,
  simulatorQiAccountKey,
} from '../../src/providers/simulator/fixtures'
import { createQiSandbox } from '../qi/app'
import { type IntegrationState, newIntegrationState, setOwn } from '../qi/state'
import { createMemoryStore, lastSeqOf } from '../qi/store'
import type { SandboxRun } from './run'

/** A partner's first state: one integration (api_client_key = partner id) with one unlimited account, no webhooks. */
const newSimulatedIntegration = (partnerId: string): IntegrationState => {
  const accountKey = simulatorQiAccountKey(partnerId)
  const state = newIntegrationState({
    api_client_key: partnerId,
    public_key_pem: SIMULATOR_QI_CLIENT_PUBLIC_KEY_PEM,
    webhook_url: null,
    account_keys: [accountKey],
  })
  setOwn(state.accounts, accountKey, { account_key: accountKey, api_client_key: partnerId, balance: null })
  return state
}

/**
 * The partner's simulated integration in the QI sandbox, with its default settings and the simulator's fixed QI
 * key. The store holds this one integration, so every control route sees only its own TEDs and tokens.
 */
export const runQi: SandboxRun = async (partnerId, saved, request) => {
  const state: IntegrationState = saved ? JSON.parse(saved) : newSimulatedIntegration(partnerId)
  // Numbering (token and TED order) carries on from the saved records.
  const store = createMemoryStore({ lastSeq: lastSeqOf(state) })
  store.save(partnerId, state)
  const qi = createQiSandbox({ store, qi_private_key_pem: SIMULATOR_QI_PRIVATE_KEY_PEM })
  try {
    const response = await qi.app.fetch(request)
    return { response, state: JSON.stringify(store.load(partnerId)) }
  } finally {
    // A Worker cannot keep the settle wake-up timers; a pending TED settles on its next load instead.
    qi.close()
  }
}
