import type { ProviderName } from './provider'

/**
 * Static facts about each provider's verification codes. sFOX documents no code lifetime and no
 * attempt limit; QI's tokens live 5 minutes and a TED is rejected after 5 failed validations.
 */
export const PROVIDER_FACTS: Record<
  ProviderName,
  { codeTtlMs: number | null; maxAttempts: number | null; channels: readonly string[] }
> = {
  sfox: { codeTtlMs: null, maxAttempts: null, channels: ['email'] },
  qi: { codeTtlMs: 5 * 60 * 1000, maxAttempts: 5, channels: ['sms', 'email'] },
}
