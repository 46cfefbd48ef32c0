import type { ProviderFetch } from '../outbound'
import type { OpenConnection, ProviderName } from '../provider'
import {
  SIMULATOR_PARTNER_HEADER,
  SIMULATOR_QI_CLIENT_PRIVATE_KEY_PEM,
  SIMULATOR_QI_PUBLIC_KEY_PEM,
  SIMULATOR_SFOX_API_KEY,
  simulatorQiAccountKey,
} from './fixtures'

/**
 * The connection a test-mode partner without one of its own gets: the provider's simulator, reached
 * through the SIMULATOR service binding. The adapter is the real one; only where it sends differs.
 */
export const simulatorConnection = (partnerId: string, provider: ProviderName): OpenConnection => {
  const baseUrl = `https://${provider}.simulator`
  if (provider === 'sfox') return { baseUrl, credentials: { api_key: SIMULATOR_SFOX_API_KEY }, settings: {} }
  return {
    baseUrl,
    credentials: {
      api_client_key: partnerId,
      private_key_pem: SIMULATOR_QI_CLIENT_PRIVATE_KEY_PEM,
      qi_public_key_pem: SIMULATOR_QI_PUBLIC_KEY_PEM,
    },
    settings: { account_keys: [simulatorQiAccountKey(partnerId)] },
  }
}

/** Sends through the binding, naming the partner whose simulated account the call is for. */
export const simulatorFetch =
  (binding: Fetcher, partnerId: string): ProviderFetch =>
  (url, init) => {
    const headers = new Headers(init.headers)
    headers.set(SIMULATOR_PARTNER_HEADER, partnerId)
    return binding.fetch(url, { ...init, headers })
  }
