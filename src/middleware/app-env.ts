import type { Bindings } from '../lib/settings'
import type { PartnerContext, Services } from '../services'

export type RequestLog = { partnerId?: string; upstreamMs: number }

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
