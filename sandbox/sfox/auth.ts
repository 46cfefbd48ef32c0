import type { Context, MiddlewareHandler } from 'hono'
import { sfoxErrors } from './errors'
import { fail } from './http'
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

/** §2: every /v1 route takes the enterprise key; missing or unknown → 401 with the ddq page's body. */
export const requireEnterpriseKey =
  (state: SfoxState): MiddlewareHandler<SfoxEnv> =>
  async (c, next) => {
    const account = accountOf(state, c)
    if (!account) return fail(c, 401, sfoxErrors.invalidToken)
    c.set('account', account)
    return next()
  }
