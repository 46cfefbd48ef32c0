export type DeliveryMessage = { delivery_id: string }
export type DeliveryQueue = Queue<DeliveryMessage>

// Queues take at most 100 messages per sendBatch call.
const CHUNK = 100

/** Enqueues deliveries (optionally delayed); the queue is only a doorbell, the rows are the truth. */
export const enqueueDeliveries = async (queue: DeliveryQueue, deliveryIds: string[], delaySeconds = 0) => {
  for (let i = 0; i < deliveryIds.length; i += CHUNK) {
    await queue.sendBatch(
      deliveryIds
        .slice(i, i + CHUNK)
        .map((id) => ({ body: { delivery_id: id }, ...(delaySeconds > 0 ? { delaySeconds } : {}) })),
    )
  }
}
