import type { ProviderFacts } from '../provider'

// QI sends tokens by SMS or email and has no cancel for a single TED, so the gateway cancels on its
// side. The token's 5-minute lifetime and 5 attempts are assumptions (QI's page names "the token
// validation attempt limit" without a number): QI_TOKEN_TTL_SECONDS and QI_TOKEN_ATTEMPTS set them.
export const QI_FACTS: ProviderFacts = {
  codeTtlMs: 5 * 60 * 1000,
  maxAttempts: 5,
  channels: ['sms', 'email'],
  gatewaySideCancel: true,
}
