import type { ProviderName } from '../providers/provider'

/** A sealed provider connection as loaded with the partner; credentials stay encrypted until used. */
export type SealedConnection = {
  id: string
  provider: ProviderName
  baseUrl: string
  credentials: string
  settings: Record<string, unknown>
}

/** Who is calling: the authenticated partner, its limits and its provider connections. */
export type PartnerContext = {
  id: string
  name: string
  keyId: string
  keyMode: 'test' | 'live'
  /** Checked on every request, cached or not. */
  keyExpiresAt: number | null
  limits: { resendLimit: number; resendCooldownMs: number; confirmAttempts: number }
  connections: Partial<Record<ProviderName, SealedConnection>>
}
