import type { ProviderFacts } from '../provider'

// QI's tokens live 5 minutes and a TED is rejected after 5 failed validations; QI sends them by SMS
// or email; it has no cancel for a single TED, so the gateway cancels on its side.
export const QI_FACTS: ProviderFacts = {
  codeTtlMs: 5 * 60 * 1000,
  maxAttempts: 5,
  channels: ['sms', 'email'],
  gatewaySideCancel: true,
}
