import type { Context, Hono } from 'hono'
import { commit, openTx, readAll, type Tx } from './effects'
import { registerIntegration } from './integrations'
import { changeStatus, DEFAULT_REFUSAL } from './lifecycle'
import { type QiSettings, settingsErrors } from './settings'
import {
  getOwn,
  type IntegrationState,
  type QiEnv,
  type QiSandbox,
  type RefusalReason,
  type Ted,
  type TedStatus,
  type WebhookRecord,
  type WebhookTamper,
  withoutSeq,
} from './state'
import { tedOwner } from './store'
import { tedView } from './views'
import { queueWebhook } from './webhooks'

/**
 * `/_sandbox/*` control routes (no auth). Errors are `{"error": "..."}` like the shared fault routes.
 * Faults (`/_sandbox/faults`) and the request log (`/_sandbox/requests`) are mounted by app.ts.
 */

const FORCEABLE: TedStatus[] = ['sent', 'pending', 'rejected', 'returned']
const TAMPERS: WebhookTamper[] = [
  'signature',
  'payload_md5',
  'stale_timestamp',
  'wrong_uri',
  'wrong_method',
  'api_client_key',
]

const bad = (c: Context, error: string, status: 400 | 404 | 409 = 400) => c.json({ error }, status)

const jsonBody = async (c: Context): Promise<Record<string, unknown> | null> => {
  const body = (await c.req.json().catch(() => null)) as unknown
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : null
}

const isRefusal = (v: unknown): v is RefusalReason => {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false
  const r = v as Record<string, unknown>
  if (Object.keys(r).length === 0) return true
  return typeof r.refusal_code === 'number' && typeof r.enumerator === 'string' && typeof r.description === 'string'
}

const parsedResponse = (record: WebhookRecord) => {
  if (record.response_body === null) return null
  try {
    return JSON.parse(record.response_body) as unknown
  } catch {
    return record.response_body
  }
}

const bySeq = (a: { seq: number }, b: { seq: number }) => a.seq - b.seq

/** The transaction on the state holding the TED, and the TED; undefined when no integration has it. */
const openTed = (sb: QiSandbox, tedKey: string): { tx: Tx; ted: Ted } | undefined => {
  const owner = tedOwner(sb.store, tedKey)
  const tx = owner === undefined ? undefined : openTx(sb, owner)
  const ted = tx && getOwn(tx.state.teds, tedKey)
  return tx && ted ? { tx, ted } : undefined
}

/** The states a ted_key filter can match: the TED's integration's only, or every one without a filter. */
const readFiltered = (sb: QiSandbox, tedKey: string | undefined): IntegrationState[] => {
  if (!tedKey) return readAll(sb)
  const found = openTed(sb, tedKey)
  if (!found) return []
  commit(found.tx)
  return [found.tx.state]
}

export const mountControl = (app: Hono<QiEnv>, sb: QiSandbox, reset: () => Promise<void>): void => {
  const { settings, clock } = sb

  app.post('/_sandbox/integrations', async (c) => {
    const result = registerIntegration(sb, await c.req.json().catch(() => null))
    if ('error' in result) return bad(c, result.error, result.status)
    const { integration, created } = result
    return c.json(
      {
        data: {
          api_client_key: integration.api_client_key,
          account_keys: integration.account_keys,
          qi_public_key_pem: sb.keys.publicKeyPem,
        },
      },
      created ? 201 : 200,
    )
  })

  app.get('/_sandbox/integrations', (c) =>
    c.json({
      data: readAll(sb).map(({ integration: i, accounts }) => ({
        api_client_key: i.api_client_key,
        webhook_url: i.webhook_url,
        accounts: i.account_keys.map((k) => ({ account_key: k, balance: getOwn(accounts, k)?.balance ?? null })),
      })),
    }),
  )

  app.get('/_sandbox/qi-public-key', (c) => c.json({ data: { public_key_pem: sb.keys.publicKeyPem } }))

  app.get('/_sandbox/tokens', (c) => {
    const tedKey = c.req.query('ted_key')
    const data = readFiltered(sb, tedKey)
      .flatMap((s) => s.tokens)
      .filter((t) => !tedKey || t.ted_key === tedKey)
      .sort(bySeq)
      .reverse()
      .map(withoutSeq)
    return c.json({ data })
  })

  app.get('/_sandbox/teds/:ted_key', (c) => {
    const found = openTed(sb, c.req.param('ted_key'))
    if (!found) return bad(c, 'ted not found', 404)
    commit(found.tx)
    const { ted } = found
    return c.json({
      data: {
        ...tedView(ted),
        transaction_key: ted.transaction_key,
        api_client_key: ted.api_client_key,
        tfa: {
          contact_type: ted.tfa.contact_type,
          attempts: ted.tfa.attempts,
          attempts_left: Math.max(0, settings.max_attempts - ted.tfa.attempts),
          expires_at: new Date(ted.tfa.expires_ms).toISOString(),
        },
      },
    })
  })

  app.post('/_sandbox/teds/:ted_key/status', async (c) => {
    const tedKey = c.req.param('ted_key')
    if (tedOwner(sb.store, tedKey) === undefined) return bad(c, 'ted not found', 404)
    const body = await jsonBody(c)
    const status = body?.ted_status as TedStatus
    if (!FORCEABLE.includes(status)) return bad(c, `ted_status must be one of ${FORCEABLE.join(', ')}`)
    if (body?.refusal_reason !== undefined && !isRefusal(body.refusal_reason))
      return bad(c, 'refusal_reason must be {} or {refusal_code: number, enumerator: string, description: string}')
    const refusal =
      (body?.refusal_reason as RefusalReason | undefined) ??
      (status === 'rejected' || status === 'returned' ? DEFAULT_REFUSAL : undefined)
    const found = openTed(sb, tedKey)
    if (!found) return bad(c, 'ted not found', 404)
    const { tx, ted } = found
    const queued = changeStatus(tx, ted, status, refusal)
    // Control routes answer with the delivery.
    const webhook = await (commit(tx).get(queued.id) ?? queued)
    return c.json({
      data: { ted: tedView(ted), webhook: { id: webhook.id, status: webhook.status, error: webhook.error } },
    })
  })

  app.get('/_sandbox/webhooks', (c) => {
    const tedKey = c.req.query('ted_key')
    const data = readFiltered(sb, tedKey)
      .flatMap((s) => s.webhooks)
      .filter((w) => !tedKey || w.ted_key === tedKey)
      .sort(bySeq)
      .map(withoutSeq)
    return c.json({ data })
  })

  app.post('/_sandbox/webhooks/send', async (c) => {
    const body = await jsonBody(c)
    const tedKey = String(body?.ted_key ?? '')
    if (tedOwner(sb.store, tedKey) === undefined) return bad(c, 'ted not found', 404)
    const status = body?.ted_status as TedStatus | undefined
    if (status !== undefined && !FORCEABLE.includes(status))
      return bad(c, `ted_status must be one of ${FORCEABLE.join(', ')}`)
    const tamper = body?.tamper as WebhookTamper | undefined
    if (tamper !== undefined && !TAMPERS.includes(tamper)) return bad(c, `tamper must be one of ${TAMPERS.join(', ')}`)
    const url = body?.url
    if (url !== undefined && !(typeof url === 'string' && /^https?:\/\//.test(url)))
      return bad(c, 'url must be an http(s) URL')
    const found = openTed(sb, tedKey)
    if (!found) return bad(c, 'ted not found', 404)
    const queued = queueWebhook(found.tx, found.ted, { ted_status: status, tamper, url: url as string | undefined })
    const record = await (commit(found.tx).get(queued.id) ?? queued)
    return c.json({ data: { id: record.id, status: record.status, body: parsedResponse(record), error: record.error } })
  })

  app.get('/_sandbox/settings', (c) => c.json({ data: settings }))

  app.post('/_sandbox/settings', async (c) => {
    const patch = await jsonBody(c)
    const errors = settingsErrors(patch)
    if (Object.keys(errors).length) return c.json({ error: 'invalid settings', fields: errors }, 400)
    Object.assign(settings, structuredClone(patch) as Partial<QiSettings>)
    return c.json({ data: settings })
  })

  app.get('/_sandbox/clock', (c) => c.json({ data: { now: new Date(clock.now()).toISOString() } }))

  app.post('/_sandbox/clock', async (c) => {
    const advance = (await jsonBody(c))?.advance_ms
    if (!Number.isInteger(advance) || (advance as number) < 0) return bad(c, 'advance_ms must be an integer >= 0')
    clock.advance(advance as number)
    return c.json({ data: { now: new Date(clock.now()).toISOString() } })
  })

  app.post('/_sandbox/reset', async (c) => {
    await reset()
    return c.json({ data: { success: true } })
  })
}
