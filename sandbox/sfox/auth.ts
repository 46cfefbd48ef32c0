import type { Context, MiddlewareHandler } from 'hono'
import { sfoxErrors } from './errors'
import { fail } from './http'
import type { SfoxSettings } from './settings'
import type { Account, SfoxState } from './state'

export type SfoxEnv = { Variables: { account: Account } }

const bearerOf = (c: Context): string | null => {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
  return match ? match[1]! : null
}

/** The account behind the request's enterprise key, if any. */
export const accountOf = (state: SfoxState, c: Context): Account | undefined => {
  const key = bearerOf(c)
  return key ? state.accountByKey(key) : undefined
}

/** §2: every /v1 route takes the enterprise key; missing or unknown → 401 with page 002's body ([INFERRED] on every route). */
export const requireEnterpriseKey =
  (state: SfoxState): MiddlewareHandler<SfoxEnv> =>
  async (c, next) => {
    const account = accountOf(state, c)
    if (!account) return fail(c, 401, sfoxErrors.invalidToken)
    c.set('account', account)
    await next()
    // In-place changes a route makes to the account (a code's attempts) are saved with it.
    state.save(account)
  }

/**
 * Page 001/003: an account without the enterprise transfer permission gets 403 "Partner transfer permission not
 * granted." on create [DOC]; on the other transfer routes only with missing_transfer_permission_refuses
 * 'transfer_routes' (the default) [INFERRED]. [INFERRED] it is checked after auth (401) and before the body.
 * Get Transfer Permissions and GET /v1/user/balance never use this guard: they stay readable.
 */
export const requireTransferPermission =
  (settings: SfoxSettings, route: 'create' | 'other'): MiddlewareHandler<SfoxEnv> =>
  async (c, next) => {
    const refuses = route === 'create' || settings.missing_transfer_permission_refuses === 'transfer_routes'
    if (refuses && settings.enforce_transfer_permissions && !c.get('account').transfer_permission) {
      return fail(c, 403, sfoxErrors.transferPermission)
    }
    return next()
  }
