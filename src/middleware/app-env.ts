import type { Bindings } from '../lib/settings'
import type { PartnerContext, Services } from '../services'
import type { AuditTrail } from './audit'

export type RequestLog = {
  partnerId?: string
  upstreamMs: number
  /** The provider the request called last, and how that call failed (the provider's failure only). */
  provider?: string
  providerErrorKind?: string
  /** Which admin token an admin call used: its slot and fingerprint, never the token. */
  adminToken?: { slot: 'current' | 'next'; fingerprint: string }
}

export type AppEnv = {
  Bindings: Bindings
  Variables: {
    requestId: string
    services: Services
    /** This request's audit entry (a no-op for requests the audit log does not record). */
    audit: AuditTrail
    partner: PartnerContext
    log: RequestLog
    /** In the partner portal: the browser session, its forms' CSRF token, and the partner's way back. */
    portal: { sessionId: string; csrf: string; returnUrl: string | null }
  }
}
