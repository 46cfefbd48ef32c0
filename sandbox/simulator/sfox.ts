import { SIMULATOR_SFOX_API_KEY } from '../../src/providers/simulator/fixtures'
import { createSfoxSandbox } from '../sfox/app'
import { newAccountState, type SfoxAccountState } from '../sfox/state'
import { createMemorySfoxStore } from '../sfox/store'
import type { SandboxRun } from './run'

/**
 * The partner's simulated sFOX account (id = partner id, the fixed simulator enterprise key) in the sFOX sandbox,
 * with its default settings except that every end user is known. The store holds this one account, so every control route lists only its own.
 */
export const runSfox: SandboxRun = async (partnerId, saved, request) => {
  const store = createMemorySfoxStore()
  const account: SfoxAccountState = saved ? JSON.parse(saved) : newAccountState(partnerId, SIMULATOR_SFOX_API_KEY)
  store.save(partnerId, account)
  // Test-mode partners cannot onboard end users at the simulator, so every user_id is one it knows.
  const { app } = createSfoxSandbox({ store, every_user_known: true })
  const response = await app.fetch(request)
  return { response, state: JSON.stringify(store.load(partnerId)) }
}
