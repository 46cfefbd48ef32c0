import { randomUUID } from 'node:crypto'
import type { Context, Hono } from 'hono'
import { qiFail, schemaFail } from './errors'
import { approve, expireIfAbandoned } from './lifecycle'
import type { QiSettings } from './settings'
import type { Account, QiEnv, QiSandbox, Ted } from './state'
import { checkToken, issueToken, resendToken } from './tfa'
import { isUuid, parseCreateTed, parseListQuery, parseResendToken, parseValidateToken } from './validation'
import { tedSent, tedSummary, tedView } from './views'

/** The TED routes (reference §4), behind `authenticate`. */

type C = Context<QiEnv>

const ownedAccount = (sb: QiSandbox, c: C): Account => {
  const accountKey = c.req.param('account_key') ?? ''
  const account = sb.state.accounts.get(accountKey)
  if (!account) return qiFail('TED000009', { params: { account_key: accountKey } })
  if (account.api_client_key !== c.get('integration').api_client_key) return qiFail('TED000018')
  return account
}

const ownedTed = (sb: QiSandbox, c: C): Ted => {
  const account = ownedAccount(sb, c)
  const ted = sb.state.teds.get(c.req.param('ted_key') ?? '')
  if (!ted || ted.account_key !== account.account_key) return qiFail('TED000020')
  expireIfAbandoned(sb, ted)
  return ted
}

const rejectedData = (ted: Ted) => ({ extra_fields: { ted_data: tedSummary(ted) } })

/** [DOC-other] TED window (TED000011), checked only with `ted_window_check`. */
const insideTedWindow = (settings: QiSettings, now: number): boolean => {
  const w = settings.ted_window
  const local = new Date(now + w.utc_offset_minutes * 60_000)
  const hhmm = local.toISOString().slice(11, 16)
  return w.weekdays.includes(local.getUTCDay()) && hhmm >= w.start && hhmm < w.end
}

const controlKeyIndex = (apiKey: string, rck: string) => `${apiKey} ${rck}`

export const mountTeds = (app: Hono<QiEnv>, sb: QiSandbox): void => {
  const { settings, state, clock } = sb

  app.post('/account/:account_key/ted', (c) => {
    const account = ownedAccount(sb, c)
    const input = parseCreateTed(c.get('body'), settings)
    const apiKey = account.api_client_key
    const existingKey = state.tedsByControlKey.get(controlKeyIndex(apiKey, input.request_control_key))
    if (existingKey) {
      const existing = state.teds.get(existingKey)!
      if (settings.duplicate_request_control_key === 'conflict')
        return qiFail('DUPLICATE_REQUEST_CONTROL_KEY', { params: { request_control_key: input.request_control_key } })
      return c.json(tedSummary(existing), settings.create_http_status)
    }
    const now = clock.now()
    if (settings.ted_window_check && !insideTedWindow(settings, now)) return qiFail('TED000011')
    const fee = settings.fee_amount
    const total = input.transaction_amount + fee
    if (account.balance !== null && account.balance < total)
      return qiFail('INSUFFICIENT_BALANCE', {
        code: settings.insufficient_balance_code,
        params: { account_key: account.account_key },
      })
    // [INFERRED] For 2FA TEDs the debit moment is not documented; the sandbox debits on creation.
    if (account.balance !== null) account.balance = Math.round((account.balance - total) * 100) / 100

    const ted: Ted = {
      seq: ++state.seq,
      ted_key: randomUUID(),
      request_control_key: input.request_control_key,
      account_key: account.account_key,
      api_client_key: apiKey,
      created_ms: now,
      created_at: new Date(now).toISOString(),
      ted_status: 'pending_2fa_approval',
      transaction_amount: input.transaction_amount,
      fee_amount: fee,
      target_account: input.target_account,
      refusal_reason: {},
      transaction_key: null,
      debited: account.balance === null ? 0 : total,
      tfa: { ...input.tfa_info, token: null, expires_ms: now, attempts: 0 },
    }
    state.teds.set(ted.ted_key, ted)
    state.tedsByControlKey.set(controlKeyIndex(apiKey, ted.request_control_key), ted.ted_key)
    issueToken(sb, ted, 'created')
    return c.json(tedSummary(ted), settings.create_http_status)
  })

  app.put('/account/:account_key/ted/:ted_key/validate_token', (c) => {
    const ted = ownedTed(sb, c)
    const token = parseValidateToken(c.get('body'), ted.tfa.contact_type)
    switch (checkToken(sb, ted, token)) {
      case 'approved':
        approve(sb, ted)
        return ted.ted_status === 'sent' ? c.json(tedSent(ted), 201) : c.json(tedSummary(ted), 202)
      case 'exhausted':
        return qiFail('TED000082', rejectedData(ted))
      case 'rejected_now':
        // [INFERRED] (setting `final_attempt_code`): the answer to the try that uses the last attempt.
        return qiFail(settings.final_attempt_code, rejectedData(ted))
      case 'not_pending':
        return qiFail('TED000086', { status: settings.invalid_status_http })
      case 'expired':
        return qiFail('TED000083')
      case 'wrong':
        return qiFail('TED000084')
    }
  })

  app.patch('/account/:account_key/ted/:ted_key/resend_token', (c) => {
    // [DOC 004] ted_key is typed uuidv4 and the page's only 400 schema code is QIT000001, so a malformed key is a
    // schema error, not TED000020. [INFERRED] the message is marshmallow's fields.UUID one, any UUID version.
    if (!isUuid(c.req.param('ted_key') ?? '')) return schemaFail({ ted_key: ['Not a valid UUID.'] })
    const ted = ownedTed(sb, c)
    switch (resendToken(sb, ted, parseResendToken(c.get('body')))) {
      case 'resent':
        return c.json(tedSummary(ted), 202)
      case 'send_failed':
        // [DOC 004] 400 TED000087; [INFERRED] with ted_data like the page's 4xx example (the TED is unchanged).
        return qiFail('TED000087', rejectedData(ted))
      case 'exhausted':
        return qiFail('TED000082', rejectedData(ted))
      case 'not_pending':
        return qiFail('TED000086', { status: settings.invalid_status_http })
      case 'no_channel':
        return schemaFail({ contact_type: ['Required when the transfer was created with contact_type device.'] })
    }
  })

  app.get('/account/:account_key/ted/:ted_key/:direction', (c) => {
    const direction = c.req.param('direction')
    if (direction !== 'outgoing' && direction !== 'incoming')
      return schemaFail({ ted_direction: ['Must be one of: incoming, outgoing.'] })
    // The sandbox only holds outgoing TEDs; an incoming lookup finds nothing, as for a foreign TED.
    if (direction === 'incoming') {
      ownedAccount(sb, c)
      return qiFail('TED000020')
    }
    return c.json(tedView(ownedTed(sb, c)))
  })

  app.get('/account/:account_key/teds', (c) => {
    const account = ownedAccount(sb, c)
    const q = parseListQuery(c.req.query(), settings)
    const matches =
      q.ted_direction === 'incoming'
        ? []
        : [...state.teds.values()]
            .filter(
              (t) =>
                t.account_key === account.account_key &&
                (!q.request_control_key || t.request_control_key === q.request_control_key) &&
                (!q.date_from || t.created_at.slice(0, 10) >= q.date_from) &&
                (!q.date_to || t.created_at.slice(0, 10) <= q.date_to),
            )
            .sort((a, b) => b.seq - a.seq)
    const page = matches.slice((q.page - 1) * q.page_size, q.page * q.page_size)
    for (const ted of page) expireIfAbandoned(sb, ted)
    return c.json({
      data: page.map(tedView),
      pagination: { current_page: q.page, rows_per_page: q.page_size },
    })
  })
}
