import type { Db } from '../db/client'
import type { MetricsSink } from './lib/metrics'
import type { Settings } from './lib/settings'
import type { ProviderName, SealedConnection, TransferProvider } from './providers/provider'
import type { Mode } from './schemas/common'

/** Who is calling (or whom a provider webhook concerns): the partner, its limits and connections. */
export type PartnerContext = {
  id: string
  name: string
  /** The mode everything this request reads and writes belongs to (the key's, or the object's). */
  mode: Mode
  /** The API key used, when the partner called us; checked on every request, cached or not. */
  key: { id: string; prefix: string; mode: 'test' | 'live'; expiresAt: number | null } | null
  limits: { resendLimit: number; resendCooldownMs: number; confirmAttempts: number; rateLimit: number }
  connections: Partial<Record<ProviderName, SealedConnection>>
}

/** Who owns a row: a partner, in one mode (test and live are separate namespaces). */
export type Owner = Pick<PartnerContext, 'id' | 'mode'>

/**
 * What every operation is given, built per request, queue batch or cron run (src/build-services.ts).
 * Types only: this module sits below every feature folder.
 */
export type Services = {
  db: Db
  settings: Settings
  now: () => number
  /** Decrypts the partner's connection and builds the adapter; throws provider_not_configured. */
  providerFor: (
    partner: PartnerContext,
    name: ProviderName,
    override?: { timeoutMs?: number },
  ) => Promise<TransferProvider>
  /** Work that may finish after the response (ctx.waitUntil). */
  defer: (task: Promise<unknown>) => void
  /** The Analytics Engine dataset (METRICS), when the deployment has one: see src/lib/metrics.ts. */
  metrics: MetricsSink
  /** Hands committed deliveries to the queue (optionally delayed); if that fails, the sweeper finds them. */
  dispatch: (deliveryIds: string[], delaySeconds?: number) => void
}
