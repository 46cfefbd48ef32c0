import type { WebhookNotice } from '../provider'
import { type QiTed, snapshotOf } from './mapping'

export type QiWebhook = { type: string; ted: QiTed }

/**
 * QI asks receivers not to map its payloads strictly (fields get added), so only what the gateway
 * needs is required: a type and a TED that names itself.
 */
export const parseQiWebhook = (raw: string): QiWebhook | null => {
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch {
    return null
  }
  if (!json || typeof json !== 'object') return null
  const { webhook_type: type, data } = json as { webhook_type?: unknown; data?: unknown }
  if (typeof type !== 'string' || !data || typeof data !== 'object') return null
  // Keys are looked up in the database: anything but a non-empty string does not name a TED.
  const named = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined)
  const ted = {
    ...(data as QiTed),
    ted_key: named((data as QiTed).ted_key),
    request_control_key: named((data as QiTed).request_control_key),
  }
  if (!ted.ted_key && !ted.request_control_key) return null
  return { type, ted }
}

/** A QI webhook as the gateway acts on it: only `baas.ted.outgoing_ted` carries a TED status. */
export const readQiWebhook = (body: string): WebhookNotice | null => {
  const hook = parseQiWebhook(body)
  if (!hook) return null
  return {
    lookup: {
      reference: hook.ted.ted_key,
      stateKey: hook.ted.request_control_key
        ? { name: 'request_control_key', value: hook.ted.request_control_key }
        : undefined,
    },
    snapshot: hook.type === 'baas.ted.outgoing_ted' ? (current) => snapshotOf(hook.ted, current) : null,
  }
}
