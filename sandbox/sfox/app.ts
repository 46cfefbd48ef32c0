import { Hono } from 'hono'
import { createClock } from '../shared/clock'
import { createFaults, faultMiddleware, mountFaultRoutes } from '../shared/faults'
import { createRequestLog } from '../shared/request-log'
import { accountOf, requireEnterpriseKey, type SfoxEnv } from './auth'
import { mountBalanceRoutes } from './balance'
import { mountControlRoutes } from './control'
import { mountDdqRoutes } from './ddq'
import { faultErrorBody, sfoxErrors } from './errors'
import { mountHistoryRoutes } from './history'
import { fail, methodNotAllowed, requireJsonAccept } from './http'
import { createRateLimiter } from './rate-limit'
import {
  applySettingsPatch,
  defaultSettings,
  parseSettingsPatch,
  restoreSettings,
  type SettingsPatch,
} from './settings'
import { createSfoxState } from './state'
import type { MemorySfoxStateStore } from './store'
import { mountTransferRoutes } from './transfers'

/**
 * Settings to start with, plus enterprise keys that survive `POST /_sandbox/reset`, and where account states live
 * (default: a fresh in-memory store; the simulator Worker seeds one from its database row).
 */
export type SfoxSandboxOptions = SettingsPatch & { api_keys?: string[]; store?: MemorySfoxStateStore }

// Paths with a route: any other method on them is a 405 (§4), not a 404.
const knownPaths = [
  '/v1/enterprise/transfer',
  '/v1/enterprise/transfer/confirm',
  '/v1/enterprise/transfer/resend-confirmation',
  '/v1/enterprise/transfer/history',
  '/v1/enterprise/transfer/permissions',
  '/v1/enterprise/transfer/:transfer_id',
  '/v1/enterprise/ddq/upload',
  '/v1/user/balance',
]

export const createSfoxSandbox = (options: SfoxSandboxOptions = {}) => {
  const { api_keys: apiKeys = [], store, ...patchInput } = options
  const parsed = parseSettingsPatch(patchInput)
  if (!parsed.ok) throw new Error(`invalid sFOX sandbox settings: ${parsed.error}`)
  const startPatch = parsed.patch
  const settings = applySettingsPatch(defaultSettings(), startPatch)

  const clock = createClock()
  const state = createSfoxState(settings, clock, apiKeys, store)
  const faults = createFaults()
  const rateLimiter = createRateLimiter(settings, clock)
  // The log's credential is the sandbox account id behind the key, never the key; OTPs are masked.
  const requestLog = createRequestLog((c) => accountOf(state, c)?.id ?? null, ['otp'])

  const app = new Hono<SfoxEnv>()
  // Outermost first: the log sees every answer (faults and 429s included), faults wrap real processing.
  app.use('*', requestLog.middleware)
  app.use('*', faultMiddleware(faults, faultErrorBody))
  app.use('*', rateLimiter.middleware)
  app.use('/v1/*', requireJsonAccept)
  // [INFERRED] auth runs before routing, so an unknown /v1 path without a key is a 401.
  app.use('/v1/*', requireEnterpriseKey(state))

  mountTransferRoutes(app, state, settings)
  mountHistoryRoutes(app, state, settings)
  mountDdqRoutes(app, state, settings)
  mountBalanceRoutes(app, state)
  for (const path of knownPaths) app.all(path, methodNotAllowed)

  const reset = async () => {
    state.reset()
    restoreSettings(settings, startPatch)
    clock.reset()
    faults.clear()
    rateLimiter.reset()
    requestLog.clear()
  }
  mountControlRoutes(app, { state, settings, clock, reset })
  mountFaultRoutes(app, faults)
  requestLog.mount(app)

  app.notFound((c) => fail(c, 404, sfoxErrors.notFound))
  // No logging: errors must not leak request contents (OTPs, keys) to the console.
  // [DOC] page 002's 500 body; [INFERRED] for every route.
  app.onError((_err, c) => fail(c, 500, sfoxErrors.internal))

  return { app, state, settings, clock, faults }
}

export type SfoxSandbox = ReturnType<typeof createSfoxSandbox>
