import type { Bindings } from '../env'
import type { PartnerContext } from '../partners/context'
import type { OperationDeps } from '../transfers/operations'

export type RequestLog = { partnerId?: string; upstreamMs: number }

export type AppEnv = {
  Bindings: Bindings
  Variables: {
    requestId: string
    deps: OperationDeps
    partner: PartnerContext
    log: RequestLog
  }
}
