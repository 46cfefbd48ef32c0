import { deliveries, events } from '../../db/schema'
import { newId } from '../lib/ids'
import { iso } from '../lib/time'
import { sampleTransfer, TEST_EVENT_TYPE, TEST_TRANSFER_ID } from '../schemas/callbacks'
import type { Owner, Services } from '../services'
import { getEndpoint } from './endpoints'
import { getEventWithDeliveries } from './event-history'
import { endpointDisabled, newDeliveryId } from './redelivery'

/**
 * Sends a `transfer.test` event to one enabled endpoint of the partner (and to no other, whatever it
 * subscribes to), through the outbox like every event: the event and its one delivery are written in
 * one batch, then the delivery is dispatched, signed, retried and redeliverable as any other.
 * Returns the event with its delivery.
 */
export const sendTestEvent = async (services: Services, owner: Owner, endpointId: string) => {
  const { db } = services
  const endpoint = await getEndpoint(db, owner, endpointId)
  if (!endpoint.enabled) throw endpointDisabled(endpoint.id)
  const now = services.now()
  const eventId = newId('evt', now)
  const delivery = newDeliveryId()
  const data = JSON.stringify({ object: sampleTransfer(owner.mode === 'live', iso(now)!), previous_status: null })
  // About no transfer (transfer_pk null), so the first and only of its sequence.
  await db.batch([
    db.insert(events).values({
      id: eventId,
      partnerId: owner.id,
      mode: owner.mode,
      transferPk: null,
      transferId: TEST_TRANSFER_ID,
      type: TEST_EVENT_TYPE,
      sequence: 1,
      data,
      createdAt: now,
    }),
    db.insert(deliveries).values({
      id: delivery,
      eventId,
      endpointId: endpoint.id,
      partnerId: owner.id,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      enqueuedAt: now,
      createdAt: now,
      updatedAt: now,
    }),
  ])
  services.dispatch([delivery])
  return getEventWithDeliveries(db, owner, eventId)
}
