import type { Hono } from 'hono'
import type { SfoxEnv } from './auth'
import type { SfoxState } from './state'

/**
 * `GET /v1/user/balance`: a harmless authenticated read the gateway's connection check can call with a partner key.
 * None of the stored pages (source-docs 000-003) nor sfox.md documents a read-only enterprise endpoint with a known
 * path, so this is sFOX's main-API "Get Account Balance" as sFOX's own older public API docs give it
 * (github.com/sfoxhq/slate, source/index.html.md): `GET https://api.sfox.com/v1/user/balance`, answering a bare
 * JSON array (no `data` wrapper) with one object per currency, `{"currency": "btc", "balance": 0.627,
 * "available": 0}`; `held` (balance - available) is the field of the WebSocket balances feed (§8).
 * [INFERRED] that sFOX accepts the enterprise key here (the Connect pages say user tokens act on end users'
 * accounts; the partner's own key reading its master account is assumed), that it is answered with auth failures
 * exactly like the other routes (401 "invalid token. check authorization header."), and that it answers 200 even
 * when the account lacks the transfer permission. It lists the partner's wallets set with
 * `POST /_sandbox/balances` (no `user_id`), sorted by currency; an account with none answers `[]`.
 */
export const mountBalanceRoutes = (app: Hono<SfoxEnv>, state: SfoxState) => {
  app.get('/v1/user/balance', (c) => {
    const wallets = [...c.get('account').wallets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return c.json(
      wallets.map(([currency, wallet]) => state.walletView(currency, wallet)),
      200,
    )
  })
}
