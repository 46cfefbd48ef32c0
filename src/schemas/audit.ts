import { z } from '@hono/zod-openapi'
import type { AuditEntry } from '../../db/schema'
import { iso } from '../lib/time'
import { ListQuery, listOf, ModeSchema, Timestamp } from './common'

const ActorType = z.enum(['admin', 'api_key', 'portal_session'])
const Outcome = z.enum(['pending', 'succeeded', 'refused', 'failed'])

export const AuditEntryResource = z
  .object({
    id: z.string(),
    object: z.literal('audit_entry'),
    action: z.string().openapi({ example: 'transfer.confirm' }),
    actor: z.object({
      type: ActorType,
      id: z.string().openapi({
        description:
          "The API key's id, the portal session's id, or the admin token's keyed fingerprint (never a token or key).",
      }),
      label: z.string().nullable().openapi({
        description: "The API key's prefix, or which admin token (`current` or `next`).",
      }),
    }),
    partner_id: z.string().nullable(),
    mode: ModeSchema.nullable().openapi({ description: "The key's or session's mode; null for the operator." }),
    target: z.object({ type: z.string(), id: z.string().nullable() }),
    outcome: Outcome.openapi({
      description:
        '`pending` until the request has answered (or if it never could); `succeeded` (2xx/3xx), `refused` (4xx), `failed` (5xx).',
    }),
    status: z.number().int().nullable().openapi({ description: 'The HTTP status of the answer.' }),
    problem_code: z.string().nullable().openapi({ description: 'The problem `code` of a refusal or failure.' }),
    client_address: z.string().nullable().openapi({ description: 'As Cloudflare reports it (`CF-Connecting-IP`).' }),
    request_id: z.string(),
    created_at: Timestamp,
  })
  .openapi('AuditEntry', {
    example: {
      id: 'aud_01JDQ7Z8X5N6K2M3P4R5S6T7V8',
      object: 'audit_entry',
      action: 'transfer.confirm',
      actor: { type: 'api_key', id: 'key_01JDQ7Y2C3D4E5F6G7H8J9K0M1', label: 'tgw_test_3f9a' },
      partner_id: 'ptr_01JDQ7X0A1B2C3D4E5F6G7H8J9',
      mode: 'test',
      target: { type: 'transfer', id: 'order-1001' },
      outcome: 'refused',
      status: 422,
      problem_code: 'verification_code_invalid',
      client_address: '203.0.113.7',
      request_id: '6f1c2b0e-8f7e-4a5b-9c61-3d2e1f0a9b8c',
      created_at: '2026-11-21T10:15:30.000Z',
    },
  })

export const AuditLogList = listOf(AuditEntryResource, 'AuditLogList')

const when = (what: string) =>
  z.iso
    .datetime()
    .optional()
    .openapi({ description: `Only entries made ${what} this time (inclusive).` })

export const AuditLogQuery = ListQuery.extend({
  action: z.string().max(64).optional().openapi({ description: 'e.g. `transfer.create`, `api_key.roll`.' }),
  target_id: z.string().max(128).optional().openapi({ description: "The target's id (a transfer_id, key id, …)." }),
  actor_type: ActorType.optional(),
  outcome: Outcome.optional(),
  created_after: when('at or after'),
  created_before: when('at or before'),
})

export const AdminAuditLogQuery = AuditLogQuery.extend({ partner_id: z.string().max(64).optional() })

export const renderAuditEntry = (row: AuditEntry) => ({
  id: row.id,
  object: 'audit_entry' as const,
  action: row.action,
  actor: { type: row.actorType, id: row.actorId, label: row.actorLabel },
  partner_id: row.partnerId,
  mode: row.mode,
  target: { type: row.objectType, id: row.objectId },
  outcome: row.outcome,
  status: row.status,
  problem_code: row.problemCode,
  client_address: row.clientAddress,
  request_id: row.requestId,
  created_at: iso(row.createdAt)!,
})

/** The list filters as the store reads them. */
export const auditQueryOf = (query: z.infer<typeof AuditLogQuery>) => ({
  limit: query.limit,
  startingAfter: query.starting_after,
  action: query.action,
  objectId: query.target_id,
  actorType: query.actor_type,
  outcome: query.outcome,
  since: query.created_after === undefined ? undefined : Date.parse(query.created_after),
  until: query.created_before === undefined ? undefined : Date.parse(query.created_before),
})
