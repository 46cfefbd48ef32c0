import type { ProviderModule } from '../provider'
import { createSfoxProvider } from './client'
import { SFOX_FACTS } from './facts'
import { sfoxSimulatorControls } from './simulator'

/** sFOX: crypto transfers confirmed with an emailed OTP, and KYC documents; it pushes no webhooks. */
export const sfoxProvider: ProviderModule = {
  name: 'sfox',
  facts: SFOX_FACTS,
  connect: ({ baseUrl, credentials }, options) =>
    createSfoxProvider({ baseUrl, apiKey: credentials.api_key! }, options),
  simulatorControls: sfoxSimulatorControls,
}
