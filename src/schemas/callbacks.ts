import { z } from '@hono/zod-openapi'
import type { Delivery, DeliveryAttempt, Event, WebhookEndpoint } from '../../db/schema'
import { iso } from '../lib/time'
import { ListQuery, listOf, Timestamp } from './common'
import { EXAMPLES } from './examples'
import { TransferResource, type TransferResourceData } from './transfers'

/** The events a transfer's status changes make: what endpoints subscribe to. */
export const STATUS_EVENT_TYPES = [
  'transfer.created',
  'transfer.processing',
  'transfer.completed',
  'transfer.failed',
  'transfer.canceled',
  'transfer.expired',
  'transfer.returned',
] as const

/** A test event: sent only on request (POST /v1/webhook-endpoints/{id}/test), only to the endpoint named. */
export const TEST_EVENT_TYPE = 'transfer.test'

export const EVENT_TYPES = [...STATUS_EVENT_TYPES, TEST_EVENT_TYPE] as const

export type EventType = (typeof EVENT_TYPES)[number]

/**
 * The transfer_id every test event carries. No transfer has it (transfer ids starting `tgw_` are the
 * gateway's own); `GET /v1/events?transfer_id=tgw_test_transfer` lists the test events.
 */
export const TEST_TRANSFER_ID = 'tgw_test_transfer'

const EventType = z.enum(EVENT_TYPES).openapi({ example: 'transfer.completed' })
const SubscribedType = z.enum(STATUS_EVENT_TYPES)
const EventTypes = z
  .array(z.union([SubscribedType, z.literal('*')]))
  .min(1)
  .max(STATUS_EVENT_TYPES.length + 1)
  .nullable()
  .openapi({
    description:
      'Event types to receive; null or ["*"] for all. transfer.test is not subscribed to: a test event goes to the endpoint it is sent to, whatever it subscribes to.',
  })

export const CreateEndpointBody = z
  .object({
    url: z.string().max(2048).openapi({ example: 'https://partner.example.com/hooks/transfers' }),
    event_types: EventTypes.optional(),
    description: z.string().max(500).nullable().optional(),
  })
  .strict()
  .openapi('CreateWebhookEndpoint', { example: EXAMPLES.createEndpoint })

export const UpdateEndpointBody = z
  .object({
    url: z.string().max(2048).optional(),
    event_types: EventTypes.optional(),
    description: z.string().max(500).nullable().optional(),
    enabled: z
      .boolean()
      .optional()
      .openapi({ description: 'Re-enabling clears disabled_reason and the failure clock.' }),
  })
  .strict()
  .openapi('UpdateWebhookEndpoint')

export const RotateSecretBody = z
  .object({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .optional()
      .openapi({
        description:
          'How long the old secret keeps signing alongside the new one (default WEBHOOK_SECRET_GRACE_SECONDS, 24 h).',
      }),
  })
  .strict()
  .openapi('RotateWebhookSecret')

export const RecoverBody = z
  .object({
    since: z.iso
      .datetime()
      .openapi({ description: 'Redeliver every delivery that failed since then (however old its event).' }),
  })
  .strict()
  .openapi('RecoverWebhookEndpoint')

export const RedeliverBody = z
  .object({
    endpoint_id: z.string().optional().openapi({ description: 'One endpoint; all subscribed endpoints when absent.' }),
  })
  .strict()
  .openapi('RedeliverEvent')

export const EndpointResource = z
  .object({
    object: z.literal('webhook_endpoint'),
    livemode: z
      .boolean()
      .openapi({ description: 'false in test mode, true in live mode: the mode of the key that made it.' }),
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    event_types: z.array(z.string()).nullable(),
    enabled: z.boolean(),
    disabled_reason: z
      .string()
      .nullable()
      .openapi({ description: 'Why it stopped receiving: 410 Gone, failing for days, or the partner.' }),
    disabled_at: Timestamp.nullable(),
    failing_since: Timestamp.nullable(),
    previous_secret_expires_at: Timestamp.nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi('WebhookEndpoint')

export const EndpointWithSecret = EndpointResource.extend({
  secret: z.string().openapi({
    description: 'whsec_… signing secret; shown only on creation and rotation.',
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  }),
}).openapi('WebhookEndpointWithSecret')

export const EndpointList = listOf(EndpointResource, 'WebhookEndpointList')

export const DeletedEndpoint = z
  .object({ object: z.literal('webhook_endpoint'), id: z.string(), deleted: z.literal(true) })
  .openapi('DeletedWebhookEndpoint')

export const RecoveryResult = z
  .object({
    object: z.literal('recovery'),
    endpoint_id: z.string(),
    deliveries_requeued: z.number().int(),
    has_more: z
      .boolean()
      .openapi({ description: 'More failed deliveries matched than one call requeues (5,000): call again.' }),
  })
  .openapi('WebhookRecovery')

export const EventResource = z
  .object({
    id: z.string().openapi({ example: 'evt_01jdq1m3v0k6y8x9w2z4c5b7n8' }),
    object: z.literal('event'),
    livemode: z
      .boolean()
      .openapi({ description: 'false in test mode, true in live mode: the mode of the key that made it.' }),
    type: EventType,
    created_at: Timestamp,
    transfer_id: z.string(),
    sequence: z.number().int().openapi({ description: 'Increases by one per event of a transfer: order by it.' }),
    data: z.object({ object: TransferResource, previous_status: z.string().nullable() }),
  })
  .openapi('Event', {
    description: 'Also the body of every callback (Standard Webhooks; webhook-id is the event id).',
    example: EXAMPLES.event,
  })

const Attempt = z.object({
  attempt: z.number().int(),
  at: Timestamp,
  status_code: z.number().int().nullable(),
  duration_ms: z.number().int(),
  error: z.string().nullable(),
  response: z.string().nullable().openapi({ description: "The first 1 KiB of the receiver's answer." }),
})

const DeliveryResource = z.object({
  id: z.string(),
  endpoint_id: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.array(Attempt),
  next_attempt_at: Timestamp.nullable(),
  last_error: z.string().nullable(),
  delivered_at: Timestamp.nullable(),
})

export const EventWithDeliveries = EventResource.extend({ deliveries: z.array(DeliveryResource) }).openapi(
  'EventWithDeliveries',
  {
    example: EXAMPLES.eventWithDeliveries,
  },
)

export const EventList = listOf(EventResource, 'EventList')

export const ListEventsQuery = ListQuery.extend({
  type: EventType.optional(),
  transfer_id: z.string().max(64).optional(),
})

export const RedeliveryResult = z
  .object({
    object: z.literal('redelivery'),
    event_id: z.string(),
    deliveries: z.array(
      z.object({
        id: z.string(),
        endpoint_id: z.string(),
        state: z
          .enum(['queued', 'in_flight'])
          .openapi({ description: 'in_flight: an attempt is under way already; its outcome stands.' }),
      }),
    ),
  })
  .openapi('Redelivery')

/**
 * A test event's transfer: the API's own example, marked as a test (the test transfer id, metadata
 * `{"test": "true"}`, no provider reference), in the mode of the key that asked, dated now.
 */
export const sampleTransfer = (livemode: boolean, at: string): TransferResourceData => ({
  ...EXAMPLES.event.data.object,
  sfox: { ...EXAMPLES.event.data.object.sfox },
  verification: { ...EXAMPLES.event.data.object.verification, code_sent_at: at },
  id: TEST_TRANSFER_ID,
  livemode,
  provider_reference: null,
  metadata: { test: 'true' },
  created_at: at,
  updated_at: at,
})

/** What partners see of an endpoint: never its secret (shown once, on creation and rotation). */
export const renderEndpoint = (e: WebhookEndpoint) => ({
  object: 'webhook_endpoint' as const,
  livemode: e.mode === 'live',
  id: e.id,
  url: e.url,
  description: e.description,
  event_types: e.eventTypes,
  enabled: e.enabled,
  disabled_reason: e.disabledReason,
  disabled_at: iso(e.disabledAt),
  failing_since: iso(e.failingSince),
  previous_secret_expires_at: e.previousSecret ? iso(e.previousSecretExpiresAt) : null,
  created_at: iso(e.createdAt)!,
  updated_at: iso(e.updatedAt)!,
})

/** An event as partners read it and receive it; `data` is the transfer as it was then. */
export const renderEvent = (event: Event) => {
  const data = JSON.parse(event.data) as { object: TransferResourceData; previous_status: string | null }
  const livemode = event.mode === 'live'
  // Events recorded before modes existed carry a transfer without the field.
  data.object.livemode ??= livemode
  return {
    id: event.id,
    object: 'event' as const,
    livemode,
    type: event.type as EventType,
    created_at: iso(event.createdAt)!,
    transfer_id: event.transferId,
    sequence: event.sequence,
    data,
  }
}

/** One delivery of an event to an endpoint, with every attempt in order. */
export const renderDelivery = ({ delivery, attempts }: { delivery: Delivery; attempts: DeliveryAttempt[] }) => ({
  id: delivery.id,
  endpoint_id: delivery.endpointId,
  status: delivery.status,
  attempts: attempts.map((a) => ({
    attempt: a.attempt,
    at: iso(a.startedAt)!,
    status_code: a.statusCode,
    duration_ms: a.durationMs,
    error: a.error,
    response: a.responseExcerpt,
  })),
  next_attempt_at: delivery.status === 'pending' ? iso(delivery.nextAttemptAt) : null,
  last_error: delivery.lastError,
  delivered_at: iso(delivery.deliveredAt),
})
