import type { Transfer } from '../../db/schema'
import { Problem } from '../lib/problem'
import { problemFor } from '../providers/problems'
import type { SimulatedOutcome } from '../providers/provider'
import type { TransferStatus } from '../rules/transfer-states'
import type { PartnerContext, Services } from '../services'
import { reconcileTransfer } from './apply'
import { notPending, transferNotFound } from './problems'
import { findTransfer } from './store/read'

// Test mode only: what a partner's integration tests need from a simulated provider (the code its
// end user would have received, and the provider-side outcomes that make every callback reachable).

const simulated = async (services: Services, partner: PartnerContext, transferId: string) => {
  const transfer = await findTransfer(services.db, partner, transferId)
  if (!transfer) throw transferNotFound(transferId)
  const provider = await services.providerFor(partner, transfer.provider)
  if (!provider.simulator) {
    throw new Problem('not_simulated', {
      detail: `This transfer went to your own test ${transfer.provider} connection; its provider sends the codes and settles it.`,
    })
  }
  return { transfer, controls: provider.simulator }
}

/** The verification code the simulated provider sent for a transfer pending verification. */
export const readTestCode = async (services: Services, partner: PartnerContext, transferId: string) => {
  const { transfer, controls } = await simulated(services, partner, transferId)
  if (transfer.status !== 'pending_verification') throw notPending(transfer, services.now())
  const code = await controls.readCode(transfer)
  if (!code.ok) throw problemFor(code.error)
  if (code.value === null) throw notPending(transfer, services.now())
  return { transfer, code: code.value }
}

// Where each outcome may start from, as at a real provider: only a sent transfer comes back.
const OUTCOME_FROM: Record<SimulatedOutcome, readonly TransferStatus[]> = {
  complete: ['pending_verification', 'processing'],
  fail: ['pending_verification', 'processing'],
  return: ['completed'],
}

/** Ends a test transfer at the simulated provider, then learns it as the gateway learns any status. */
export const settleTestTransfer = async (
  services: Services,
  partner: PartnerContext,
  transferId: string,
  outcome: SimulatedOutcome,
): Promise<Transfer> => {
  const { transfer, controls } = await simulated(services, partner, transferId)
  if (!OUTCOME_FROM[outcome].includes(transfer.status as TransferStatus)) {
    throw new Problem('outcome_not_allowed', {
      detail: `A ${transfer.status} transfer cannot ${outcome}; it can from ${OUTCOME_FROM[outcome].join(' or ')}.`,
      extensions: { transfer_status: transfer.status },
    })
  }
  const settled = await controls.settle(transfer, outcome)
  if (!settled.ok) throw problemFor(settled.error)
  return reconcileTransfer(services, partner, transfer)
}
