import type { ProviderName } from './provider'

/**
 * Static facts about each provider. sFOX documents no code lifetime and no attempt limit; QI's
 * tokens live 5 minutes and a TED is rejected after 5 failed validations. QI has no cancel for a
 * TED, so the gateway cancels on its side — and must not while a confirm is on its way to QI.
 */
export const PROVIDER_FACTS: Record<
  ProviderName,
  { codeTtlMs: number | null; maxAttempts: number | null; channels: readonly string[]; gatewaySideCancel: boolean }
> = {
  sfox: { codeTtlMs: null, maxAttempts: null, channels: ['email'], gatewaySideCancel: false },
  qi: { codeTtlMs: 5 * 60 * 1000, maxAttempts: 5, channels: ['sms', 'email'], gatewaySideCancel: true },
}
