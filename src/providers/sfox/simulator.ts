import { fail, ok, type ProviderModule, type SimulatedOutcome } from '../provider'
import { controlCall } from '../simulator/control-call'

// sFOX has no returns: a transfer it cancels is how it fails.
const STATUS_OF: Record<SimulatedOutcome, string | null> = { complete: 'COMPLETE', fail: 'CANCELED', return: null }

/** The simulated sFOX's control routes: the emailed OTPs, and a transfer's status forced. */
export const sfoxSimulatorControls: ProviderModule['simulatorControls'] = (connection, options) => ({
  readCode: async (transfer) => {
    const reference = encodeURIComponent(transfer.providerReference ?? transfer.id)
    const outbox = await controlCall('sfox', connection, options, 'GET', `/_sandbox/outbox?transfer_id=${reference}`)
    if (!outbox.ok) return outbox
    const emails = (outbox.value ?? []) as { code: string }[]
    return ok(emails.at(-1)?.code ?? null)
  },
  settle: async (transfer, outcome) => {
    const status = STATUS_OF[outcome]
    if (!status) {
      const message = 'sFOX never returns a transfer; complete or fail it instead.'
      return fail({ kind: 'rejected', provider: 'sfox', status: null, code: null, message })
    }
    const reference = encodeURIComponent(transfer.providerReference ?? transfer.id)
    const forced = await controlCall('sfox', connection, options, 'POST', `/_sandbox/transfers/${reference}/status`, {
      status,
    })
    return forced.ok ? ok(undefined) : forced
  },
})
