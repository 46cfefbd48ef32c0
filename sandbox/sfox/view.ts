import type { SfoxSettings } from './settings'
import type { Transfer } from './state'

/** The transfer object of §5.1, keys in the order of page 001/003's create example [DOC-EX] (the confirm example's too). */
export type TransferJson = {
  transfer_id: string
  transfer_status_code: string
  type: string
  quantity: number
  currency: string
  user_id: string
  rate: number
  purpose: string
  description: string
  atx_id_charged: number
  atx_id_credited: number
  atx_status_charged: number | string
  atx_status_credited: number | string
  transfer_date?: string
}

type ViewOptions = {
  /** History examples carry atx statuses as strings ("1200"), create/confirm as ints (§5.1, §5.9). */
  atxAsString?: boolean
  /** The call being answered completed the transfer: legs are still `processing` (1127, confirm example). */
  justCompleted?: boolean
  includeDate?: boolean
}

const atxStatus = (settings: SfoxSettings, transfer: Transfer, now: number, justCompleted: boolean) => {
  const codes = settings.atx_status
  if (transfer.status === 'CANCELED') return codes.canceled
  if (transfer.status !== 'COMPLETE') return codes.pending
  if (justCompleted) return codes.processing
  return now - (transfer.completed_at ?? now) >= settings.atx_settle_ms ? codes.done : codes.processing
}

export const transferJson = (
  settings: SfoxSettings,
  transfer: Transfer,
  now: number,
  { atxAsString = false, justCompleted = false, includeDate = true }: ViewOptions = {},
): TransferJson => {
  const status = atxStatus(settings, transfer, now, justCompleted)
  const atx = atxAsString ? String(status) : status
  return {
    transfer_id: transfer.transfer_id,
    transfer_status_code: transfer.status,
    type: transfer.type,
    quantity: transfer.quantity,
    currency: transfer.currency,
    user_id: transfer.user_id,
    rate: transfer.rate,
    purpose: transfer.purpose,
    description: transfer.description,
    atx_id_charged: transfer.atx_id_charged,
    atx_id_credited: transfer.atx_id_credited,
    atx_status_charged: atx,
    atx_status_credited: atx,
    ...(includeDate ? { transfer_date: new Date(transfer.created_at).toISOString() } : {}),
  }
}
