import type { ProviderName } from '../providers/provider'

/** A sealed provider connection as loaded with the partner; credentials stay encrypted until used. */
export type SealedConnection = {
  id: string
  provider: ProviderName
  baseUrl: string
  credentials: string
  settings: Record<string, unknown>
}

/** Who is calling (or whom a provider webhook concerns): the partner, its limits and connections. */
export type PartnerContext = {
  id: string
  name: string
  /** The API key used, when the partner called us; checked on every request, cached or not. */
  key: { id: string; mode: 'test' | 'live'; expiresAt: number | null } | null
  limits: { resendLimit: number; resendCooldownMs: number; confirmAttempts: number; rateLimit: number }
  connections: Partial<Record<ProviderName, SealedConnection>>
}
