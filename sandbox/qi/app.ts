import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { createClock } from '../shared/clock'
import { createFaults, faultMiddleware, mountFaultRoutes } from '../shared/faults'
import { createRequestLog } from '../shared/request-log'
import { authenticate } from './auth'
import { mountAuthTest } from './auth-test'
import { mountControl } from './control'
import { faultErrorBody, qiErrorResponse } from './errors'
import { qiKeyPair } from './keys'
import { signResponses } from './response-signing'
import { createSettings, type QiSettings } from './settings'
import { type QiEnv, type QiSandbox, type QiStore, stopTimers } from './state'
import { createMemoryStore, inspectStore } from './store'
import { mountTeds } from './teds'

export type QiSandboxOptions = Partial<QiSettings> & {
  /** QI's private key (PEM); a fresh P-521 pair is generated when absent. */
  qi_private_key_pem?: string
  /** Where integration states live (default: in memory, live objects). */
  store?: QiStore
}

/**
 * The QI Tech BaaS TED API as a Hono app. Order matters: the request log and faults see everything;
 * `/_sandbox/*` control routes answer before auth; every API answer (errors included) is signed.
 */
export const createQiSandbox = (options: QiSandboxOptions = {}) => {
  const { qi_private_key_pem, store = createMemoryStore(), ...overrides } = options
  const settings = createSettings(overrides)
  const sb: QiSandbox = {
    settings,
    store,
    clock: createClock(),
    keys: qiKeyPair(qi_private_key_pem),
    timers: new Set(),
  }
  const faults = createFaults()
  // API-CLIENT-KEY identifies the integration; it is not a secret. 2FA tokens are masked.
  const requestLog = createRequestLog((c) => c.req.header('api-client-key') ?? null, ['token'])

  const app = new Hono<QiEnv>()
  app.use('*', requestLog.middleware)
  app.use('*', faultMiddleware(faults, faultErrorBody))

  const reset = async () => {
    stopTimers(sb)
    store.clear()
    Object.assign(settings, createSettings(overrides))
    sb.clock.reset()
    faults.clear()
    requestLog.clear()
  }
  mountControl(app, sb, reset)
  mountFaultRoutes(app, faults)
  requestLog.mount(app)

  app.use('*', signResponses(sb))
  app.use('*', authenticate(sb))
  mountTeds(app, sb)
  mountAuthTest(app, sb)

  app.notFound((c) =>
    c.req.path.startsWith('/_sandbox/') ? c.json({ error: 'not found' }, 404) : qiErrorResponse('NOT_FOUND'),
  )
  app.onError((err) => (err instanceof HTTPException ? err.getResponse() : qiErrorResponse('QIT000500')))

  return {
    app,
    /** A read-only view of every integration's state, for tests. */
    state: inspectStore(store),
    store,
    settings,
    clock: sb.clock,
    faults,
    qiPublicKeyPem: sb.keys.publicKeyPem,
    /** Stops the settle wake-up timers (state is kept for inspection; a load still settles what is due). */
    close: () => stopTimers(sb),
  }
}

export type QiSandboxApp = ReturnType<typeof createQiSandbox>
