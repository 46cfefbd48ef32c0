import type { Client } from '@libsql/client/web'
import { loadState, type SimulatedProvider, saveState } from './state-store'

/**
 * Runs one request against a sandbox built from `saved` (undefined: the partner's first request) and gives its
 * answer and the state as it is afterwards (JSON). Nothing may outlive the call: no timers, no cached state.
 */
export type SandboxRun = (
  partnerId: string,
  saved: string | undefined,
  request: Request,
) => Promise<{ response: Response; state: string }>

// Enough for a partner's bursts of a few dozen concurrent calls (each run is ~10 ms); a provider's 503 after that.
export const MAX_ATTEMPTS = 8

/**
 * Load → run → save with an optimistic check. A lost race means the answer was computed from stale state, so it
 * is thrown away and the whole request runs again from a fresh load; never is a concurrent update overwritten.
 */
export const runWithState = async (
  db: Client,
  partnerId: string,
  provider: SimulatedProvider,
  request: Request,
  run: SandboxRun,
): Promise<Response> => {
  for (let attempt = 1; ; attempt++) {
    const read = await loadState(db, partnerId, provider)
    // A clone per attempt: a run reads the body, and a retry needs it again.
    const { response, state } = await run(partnerId, read?.state, request.clone() as Request)
    if (state === read?.state) return response
    if (await saveState(db, partnerId, provider, state, read)) return response
    await response.body?.cancel()
    if (attempt === MAX_ATTEMPTS) break
    // Random, doubling pauses (up to 25, 50, 100, 200, then 400 ms) spread out requests that keep colliding on one row.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(400, 25 * 2 ** (attempt - 1))))
  }
  return Response.json({ error: 'simulator state is busy, try again' }, { status: 503 })
}
