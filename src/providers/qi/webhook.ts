import type { QiTed } from './mapping'

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
  const ted = data as QiTed
  if (typeof ted.ted_key !== 'string' && typeof ted.request_control_key !== 'string') return null
  return { type, ted }
}
