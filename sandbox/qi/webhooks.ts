import { randomUUID } from 'node:crypto'
import type { Tx } from './effects'
import { generateP521KeyPair, type KeyPairPem } from './keys'
import { isoTimestamp, md5Hex, pythonJsonDumps, signV2, type V2Claims } from './signing'
import { type QiSandbox, signatureNow, type Ted, type TedStatus, type WebhookRecord, type WebhookTamper } from './state'
import { tedView } from './views'

/**
 * Signed status webhooks (reference §7): POST `baas.ted.outgoing_ted` with AUTHORIZATION = ES512 JWT
 * signed by QI {payload_md5, timestamp, method: "POST", uri} and API-CLIENT-KEY = the partner's key.
 * [INFERRED] payload_md5 is md5(exact body) or md5(json.dumps(parsed body)) (setting `webhook_md5_form`);
 * uri is the webhook URL's path or the full URL (setting `webhook_signed_uri`). [INFERRED] One attempt, `webhook_timeout_ms`, no retries
 * (BaaS retry policy is not public); `POST /_sandbox/webhooks/send` redelivers.
 * A webhook is recorded in the integration's state when the status changes (`queueWebhook`) and POSTed by the
 * `webhook` effect after the change is saved (`deliverWebhook`), which writes the outcome back to the record.
 */

export const webhookPayload = (ted: Ted, status: TedStatus, now: number) => ({
  webhook_type: 'baas.ted.outgoing_ted',
  webhook_datetime: new Date(now).toISOString(),
  data: { ...tedView(ted), ted_status: status },
})

// Forged signatures for `tamper: "signature"` use a key QI's public key cannot verify.
let strangerKey: KeyPairPem | undefined

const signedHeaders = async (
  sb: QiSandbox,
  apiKey: string,
  target: string,
  body: string,
  tamper: WebhookTamper | null,
) => {
  const now = signatureNow(sb)
  const url = new URL(target)
  const hashed = sb.settings.webhook_md5_form === 'json_dumps' ? pythonJsonDumps(JSON.parse(body)) : body
  const claims: V2Claims = {
    payload_md5: md5Hex(hashed),
    timestamp: isoTimestamp(now),
    method: 'POST',
    uri: sb.settings.webhook_signed_uri === 'full_url' ? target : url.pathname,
  }
  let privateKeyPem = sb.keys.privateKeyPem
  if (tamper === 'signature') privateKeyPem = (strangerKey ??= generateP521KeyPair()).privateKeyPem
  if (tamper === 'payload_md5') claims.payload_md5 = md5Hex(`${hashed} `)
  if (tamper === 'stale_timestamp') claims.timestamp = isoTimestamp(now - sb.settings.timestamp_tolerance_ms - 60_000)
  if (tamper === 'wrong_uri') claims.uri = `${claims.uri.replace(/\/$/, '')}/not-the-webhook-path`
  if (tamper === 'wrong_method') claims.method = 'PUT'
  return {
    'Content-Type': 'application/json',
    AUTHORIZATION: await signV2(claims, privateKeyPem),
    // A well-formed key that is not the integration's own.
    'API-CLIENT-KEY': tamper === 'api_client_key' ? randomUUID() : apiKey,
  }
}

const MAX_RECORDED_RESPONSE = 2_000

export type DeliveryOptions = { ted_status?: TedStatus; tamper?: WebhookTamper | null; url?: string }

/**
 * Records one webhook for the TED (its current status unless overridden) in the transaction's state and queues
 * its delivery (none without a URL: the record says so at once); returns the record as queued.
 */
export const queueWebhook = (tx: Tx, ted: Ted, options: DeliveryOptions = {}): WebhookRecord => {
  const { sb } = tx
  const status = options.ted_status ?? ted.ted_status
  const url = options.url ?? tx.state.integration.webhook_url ?? sb.settings.webhook_url
  const body = JSON.stringify(webhookPayload(ted, status, sb.clock.now()))
  const record: WebhookRecord = {
    id: `whk_${randomUUID()}`,
    ted_key: ted.ted_key,
    api_client_key: ted.api_client_key,
    ted_status: status,
    url,
    tamper: options.tamper ?? null,
    sent_at: new Date(sb.clock.now()).toISOString(),
    headers: {},
    body,
    status: null,
    response_body: null,
    error: null,
  }
  if (!url) record.error = 'no webhook_url configured for the integration or in settings'
  tx.state.webhooks.push({ ...record, seq: sb.store.nextSeq() })
  if (url) tx.effects.push({ type: 'webhook', record: { ...record } })
  return record
}

/** Writes part of a delivery's outcome to the stored record (gone after a reset: nothing to do). */
const recordOutcome = (sb: QiSandbox, record: WebhookRecord, patch: Partial<WebhookRecord>): void => {
  Object.assign(record, patch)
  const state = sb.store.load(record.api_client_key)
  if (!state) return
  for (let i = state.webhooks.length - 1; i >= 0; i--) {
    const stored = state.webhooks[i]!
    if (stored.id !== record.id) continue
    Object.assign(stored, patch)
    sb.store.save(record.api_client_key, state)
    return
  }
}

/** POSTs a queued webhook and records the answer; never throws. Resolves with the record as it ends. */
export const deliverWebhook = async (sb: QiSandbox, queued: WebhookRecord): Promise<WebhookRecord> => {
  const record = { ...queued }
  const url = record.url!
  try {
    recordOutcome(sb, record, {
      headers: await signedHeaders(sb, record.api_client_key, url, record.body, record.tamper),
    })
    const res = await fetch(url, {
      method: 'POST',
      headers: record.headers,
      body: record.body,
      signal: AbortSignal.timeout(sb.settings.webhook_timeout_ms),
    })
    recordOutcome(sb, record, { status: res.status })
    recordOutcome(sb, record, { response_body: (await res.text()).slice(0, MAX_RECORDED_RESPONSE) })
  } catch (err) {
    const e = err as Error
    recordOutcome(sb, record, {
      error: e.name === 'TimeoutError' ? `timed out after ${sb.settings.webhook_timeout_ms} ms` : e.message,
    })
  }
  return record
}
