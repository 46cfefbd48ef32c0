import type { Transfer } from '../../db/schema'
import { sha256Hex } from '../lib/crypto'
import { newId } from '../lib/ids'
import { stableJson } from '../lib/json'
import { Problem } from '../lib/problem'
import type { Settings } from '../lib/settings'
import { problemFor } from '../providers/problems'
import { isTransient, type ProviderName, type TransferProvider } from '../providers/provider'
import { providerFacts } from '../providers/registry'
import type { CreateTransferInput } from '../schemas/transfers'
import type { PartnerContext, Services } from '../services'
import { applySnapshot } from './apply'
import { inFlight } from './problems'
import { claimCreate, forgetCreate, releaseCreate } from './store/create-claim'

// How long a create owns its transfer; a replay after that may take over (the first one died). A
// create may make three provider calls (a lookup on resume or after a duplicate, the create, a
// second history page), each up to the provider timeout.
const createLeaseMs = (settings: Settings) => 3 * settings.PROVIDER_TIMEOUT_MS + 5_000

export type CreateResult = { transfer: Transfer; created: boolean }

export const createTransfer = async (
  services: Services,
  partner: PartnerContext,
  input: CreateTransferInput,
): Promise<CreateResult> => {
  const provider = await services.providerFor(partner, input.provider)
  // The create body carries the provider's own details under the provider's name.
  const details = (input as unknown as Record<string, Record<string, unknown>>)[input.provider]!
  provider.assertCreateAllowed?.(details)
  const now = services.now()
  const metadata = input.metadata ?? null
  const requestHash = await sha256Hex(stableJson({ provider: input.provider, details, metadata }))
  const id = newId('tr', now)
  const claim = await claimCreate(
    services.db,
    {
      id,
      ...provider.prepare(id),
      partnerId: partner.id,
      mode: partner.mode,
      transferId: input.transfer_id,
      provider: input.provider,
      status: 'submitting',
      requestHash,
      details,
      metadata,
      leaseUntil: now + createLeaseMs(services.settings),
      resendLimit: partner.limits.resendLimit,
      resendCooldownMs: partner.limits.resendCooldownMs,
      confirmLimit: confirmAttemptsFor(services, partner, input.provider),
      createdAt: now,
      updatedAt: now,
    },
    now,
  )
  switch (claim.kind) {
    case 'conflict':
      throw new Problem('idempotency_key_reused', {
        detail: `transfer_id "${input.transfer_id}" was already used with a different request body.`,
      })
    case 'in_flight':
      throw inFlight(`A request for transfer_id "${input.transfer_id}" is still being processed; retry shortly.`)
    case 'replay':
      return { transfer: claim.transfer, created: false }
  }
  return submit(services, provider, claim.transfer, claim.kind === 'resumed')
}

/** The gateway's attempt limit, never looser than the provider's own. */
const confirmAttemptsFor = (services: Services, partner: PartnerContext, provider: ProviderName) => {
  const providerMax = providerFacts(services.settings)[provider].maxAttempts
  return providerMax === null ? partner.limits.confirmAttempts : Math.min(providerMax, partner.limits.confirmAttempts)
}

/** Sends a claimed `submitting` transfer to its provider and records the outcome. */
const submit = async (
  services: Services,
  provider: TransferProvider,
  transfer: Transfer,
  resumed: boolean,
): Promise<CreateResult> => {
  const result = await provider.create(transfer, { resumed })
  const now = services.now()
  if (!result.ok) {
    // A refusal forgets the transfer (the id may be reused), unless an earlier attempt may have
    // reached the provider: then the refusal proves nothing about it, and the reconciler decides.
    const heldLease = transfer.leaseUntil ?? 0
    if (isTransient(result.error.kind) || resumed) await releaseCreate(services.db, transfer.id, now, heldLease)
    else await forgetCreate(services.db, transfer.id, heldLease)
    throw problemFor(result.error)
  }
  const snapshot = result.value
  const updated = await applySnapshot(
    services,
    transfer,
    { ...snapshot, status: snapshot.status ?? 'processing' },
    { leaseUntil: null },
  )
  return { transfer: updated, created: true }
}
