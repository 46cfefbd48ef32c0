import type { ProviderName } from './provider'

/**
 * Static facts about each provider's verification codes that storage needs inside its atomic
 * statements. sFOX documents no code lifetime; QI's tokens live 5 minutes.
 */
export const PROVIDER_FACTS: Record<ProviderName, { codeTtlMs: number | null; channels: readonly string[] }> = {
  sfox: { codeTtlMs: null, channels: ['email'] },
  qi: { codeTtlMs: 5 * 60 * 1000, channels: ['sms', 'email'] },
}
