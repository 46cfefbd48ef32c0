import type { Bindings } from '../lib/settings'
import type { PartnerContext, Services } from '../services'

export type RequestLog = {
  partnerId?: string
  upstreamMs: number
  /** Which admin token an admin call used: its slot and fingerprint, never the token. */
  adminToken?: { slot: 'current' | 'next'; fingerprint: string }
}

export type AppEnv = {
  Bindings: Bindings
  Variables: {
    requestId: string
    services: Services
    partner: PartnerContext
    log: RequestLog
    /** In the partner portal: the browser session, its forms' CSRF token, and the partner's way back. */
    portal: { sessionId: string; csrf: string; returnUrl: string | null }
  }
}
