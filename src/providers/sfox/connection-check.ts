import { describeFailure, notChecked, reached, step, unreachableDetail } from '../connection-check'
import type { ConnectionCheckOutcome, ProviderError, Result } from '../provider'

type Call = (path: string) => Promise<Result<unknown>>

const failureOf = (result: Result<unknown>): ProviderError | null => (result.ok ? null : result.error)

/**
 * sFOX, read-only: the account's balances with the partner's key (is the key accepted?), then its
 * transfer permissions (Get Transfer Permissions; sFOX's pages link it without its body, so the
 * path and `{data: [{type, enabled}]}` are assumptions the sandbox shares). 401 means the key is
 * wrong; 403 "Partner transfer permission not granted." that the permission is missing. Neither
 * call moves money or sends anything to an end user.
 */
export const checkSfoxConnection = async (call: Call, baseUrl: string): Promise<ConnectionCheckOutcome> => {
  let balance: Result<unknown> | undefined
  const reachable = await step('reachable', async () => {
    balance = await call('/v1/user/balance')
    const error = failureOf(balance)
    if (reached(balance)) return { ok: true, detail: `sFOX answered at ${baseUrl}.` }
    return { ok: false, detail: unreachableDetail(baseUrl, error!) }
  })
  if (!reachable.ok) {
    return {
      checks: [
        reachable,
        notChecked('authentication', 'sFOX could not be reached'),
        notChecked('transfer_permission', 'sFOX could not be reached'),
      ],
    }
  }
  const authentication = await step('authentication', async () => {
    const error = failureOf(balance!)
    if (!error) return { ok: true, detail: 'sFOX accepted the API key (account balances read).' }
    if (error.status === 401) {
      return {
        ok: false,
        detail: `${describeFailure(error, 'sFOX')}. The API key is wrong, revoked or not an enterprise key: set the partner's current sFOX enterprise key with PUT …/connections/sfox.`,
      }
    }
    return { ok: false, detail: `${describeFailure(error, 'sFOX')}. The API key could not be confirmed.` }
  })
  if (!authentication.ok) {
    return { checks: [reachable, authentication, notChecked('transfer_permission', 'the API key was refused')] }
  }
  const permission = await step('transfer_permission', async () => {
    const answer = await call('/v1/enterprise/transfer/permissions')
    const error = failureOf(answer)
    if (!error) {
      const types =
        (answer.ok ? (answer.value as { data?: { type?: unknown; enabled?: unknown }[] })?.data : null) ?? []
      const disabled = types.filter((t) => t.enabled !== true).map((t) => String(t.type))
      if (!Array.isArray(types) || types.length === 0) {
        return { ok: false, detail: "sFOX's transfer permissions could not be read (an empty answer)." }
      }
      if (disabled.length > 0) {
        return {
          ok: false,
          detail: `sFOX has not enabled ${disabled.join(' and ')} transfers for this account: ask sFOX to enable them.`,
        }
      }
      return { ok: true, detail: `The account may make ${types.map((t) => String(t.type)).join(' and ')} transfers.` }
    }
    if (error.kind === 'permission_denied' || error.status === 403) {
      return {
        ok: false,
        detail: `${describeFailure(error, 'sFOX')}. The key is valid but the sFOX account lacks the enterprise transfer permission: ask sFOX to grant it.`,
      }
    }
    return { ok: false, detail: `${describeFailure(error, 'sFOX')}. The transfer permission could not be confirmed.` }
  })
  return { checks: [reachable, authentication, permission] }
}
