import type { ProviderFacts } from '../provider'

// sFOX documents no code lifetime and no attempt limit; codes go by email; transfers can be canceled.
export const SFOX_FACTS: ProviderFacts = {
  codeTtlMs: null,
  maxAttempts: null,
  channels: ['email'],
  gatewaySideCancel: false,
}
