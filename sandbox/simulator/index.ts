import { createClient } from '@libsql/client/web'
import { SIMULATOR_PARTNER_HEADER } from '../../src/providers/simulator/fixtures'
import { runQi } from './qi'
import { isAllowedRoute } from './routes'
import { runWithState, type SandboxRun } from './run'
import { runSfox } from './sfox'
import type { SimulatedProvider } from './state-store'

export type SimulatorEnv = { LIBSQL_URL: string; LIBSQL_AUTH_TOKEN?: string }

const sandboxes: Record<SimulatedProvider, SandboxRun> = { sfox: runSfox, qi: runQi }
const isProvider = (name: string): name is SimulatedProvider => Object.hasOwn(sandboxes, name)

const PARTNER_ID = /^[A-Za-z0-9_-]{1,64}$/

const error = (status: number, message: string) => Response.json({ error: message }, { status })

/**
 * The test-mode simulator Worker: `https://<sfox|qi>.simulator/<the provider's own API path>`, for the partner
 * named in the `x-simulator-partner` header. Each request runs the provider's sandbox on that partner's state,
 * loaded from and saved to the database (nothing is kept in the isolate between requests).
 */
export default {
  async fetch(request: Request, env: SimulatorEnv): Promise<Response> {
    const url = new URL(request.url)
    const provider = url.hostname.split('.')[0] ?? ''
    if (!isProvider(provider)) return error(404, 'not found')
    const partnerId = request.headers.get(SIMULATOR_PARTNER_HEADER)
    if (!partnerId || !PARTNER_ID.test(partnerId)) {
      return error(400, `${SIMULATOR_PARTNER_HEADER} must name the partner (1-64 of A-Z a-z 0-9 _ -)`)
    }
    if (!isAllowedRoute(provider, request.method, url.pathname)) return error(404, 'not found')

    // A client per request: a Worker may not reuse I/O objects across requests.
    const db = createClient({ url: env.LIBSQL_URL, authToken: env.LIBSQL_AUTH_TOKEN || undefined })
    try {
      return await runWithState(db, partnerId, provider, request, sandboxes[provider])
    } catch (err) {
      // The error's name only: a message could quote state (codes, tokens).
      console.error(`simulator ${provider} request failed: ${err instanceof Error ? err.name : typeof err}`)
      return error(500, 'simulator failed')
    } finally {
      db.close()
    }
  },
} satisfies ExportedHandler<SimulatorEnv>
