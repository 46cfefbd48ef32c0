import type { Event } from '../../db/schema'
import type { TransferResourceData } from '../schemas/transfers'
import { iso } from '../transfers/resource'

export const EVENT_TYPES = [
  'transfer.created',
  'transfer.processing',
  'transfer.completed',
  'transfer.failed',
  'transfer.canceled',
  'transfer.expired',
  'transfer.returned',
] as const

export type EventType = (typeof EVENT_TYPES)[number]

/** An event as partners read it and receive it; `data` is the transfer as it was then. */
export const renderEvent = (event: Event) => ({
  id: event.id,
  object: 'event' as const,
  type: event.type as EventType,
  created_at: iso(event.createdAt)!,
  transfer_id: event.transferId,
  sequence: event.sequence,
  data: JSON.parse(event.data) as { object: TransferResourceData; previous_status: string | null },
})
