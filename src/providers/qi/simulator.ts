import { fail, ok, type ProviderModule, type SimulatedOutcome } from '../provider'
import { controlCall } from '../simulator/control-call'

const TED_STATUS_OF: Record<SimulatedOutcome, string> = { complete: 'sent', fail: 'rejected', return: 'returned' }

/** The simulated QI's control routes: the 2FA tokens it sent, and a TED's status forced. */
export const qiSimulatorControls: ProviderModule['simulatorControls'] = (connection, options) => ({
  readCode: async (transfer) => {
    if (!transfer.providerReference) return ok(null)
    const tedKey = encodeURIComponent(transfer.providerReference)
    const tokens = await controlCall('qi', connection, options, 'GET', `/_sandbox/tokens?ted_key=${tedKey}`)
    if (!tokens.ok) return tokens
    // Newest first.
    return ok(((tokens.value ?? []) as { token: string }[])[0]?.token ?? null)
  },
  settle: async (transfer, outcome) => {
    if (!transfer.providerReference) {
      const message = 'QI has not given this transfer a TED yet.'
      return fail({ kind: 'not_found', provider: 'qi', status: null, code: null, message })
    }
    const tedKey = encodeURIComponent(transfer.providerReference)
    const forced = await controlCall('qi', connection, options, 'POST', `/_sandbox/teds/${tedKey}/status`, {
      ted_status: TED_STATUS_OF[outcome],
    })
    return forced.ok ? ok(undefined) : forced
  },
})
