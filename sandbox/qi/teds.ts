import { randomUUID } from 'node:crypto'
import type { Context, Hono } from 'hono'
import { type Tx, withState } from './effects'
import { qiFail, schemaFail } from './errors'
import { approve, expireIfAbandoned } from './lifecycle'
import type { QiSettings } from './settings'
import { type Account, getOwn, type QiEnv, type QiSandbox, setOwn, type Ted } from './state'
import { accountOwner } from './store'
import { checkToken, issueToken, resendToken } from './tfa'
import { isUuid, parseCreateTed, parseListQuery, parseResendToken, parseValidateToken } from './validation'
import { tedSent, tedSummary, tedView } from './views'

/**
 * The TED routes (reference §4), behind `authenticate`. Each works on the calling integration's state in one
 * transaction (effects.ts): loaded with due settlements applied, saved and its webhooks sent even when the
 * answer is an error.
 */

type C = Context<QiEnv>

/** Runs a route on the calling integration's state. */
const inTx = <T>(sb: QiSandbox, c: C, fn: (tx: Tx) => T): T => withState(sb, c.get('integration'), fn)

const ownedAccount = (tx: Tx, c: C): Account => {
  const accountKey = c.req.param('account_key') ?? ''
  const account = getOwn(tx.state.accounts, accountKey)
  if (account) return account
  // Another integration's account is TED000018; one nobody has, TED000009.
  if (accountOwner(tx.sb.store, accountKey) !== undefined) return qiFail('TED000018')
  return qiFail('TED000009', { params: { account_key: accountKey } })
}

const ownedTed = (tx: Tx, c: C): Ted => {
  const account = ownedAccount(tx, c)
  const ted = getOwn(tx.state.teds, c.req.param('ted_key') ?? '')
  if (!ted || ted.account_key !== account.account_key) return qiFail('TED000020')
  expireIfAbandoned(tx, ted)
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

export const mountTeds = (app: Hono<QiEnv>, sb: QiSandbox): void => {
  const { settings, clock } = sb

  app.post('/account/:account_key/ted', (c) =>
    inTx(sb, c, (tx) => {
      const account = ownedAccount(tx, c)
      const input = parseCreateTed(c.get('body'), settings)
      const apiKey = account.api_client_key
      const existingKey = getOwn(tx.state.tedsByControlKey, input.request_control_key)
      if (existingKey) {
        const existing = getOwn(tx.state.teds, existingKey)!
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
        seq: sb.store.nextSeq(),
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
        settle_at: null,
      }
      setOwn(tx.state.teds, ted.ted_key, ted)
      setOwn(tx.state.tedsByControlKey, ted.request_control_key, ted.ted_key)
      issueToken(tx, ted, 'created')
      return c.json(tedSummary(ted), settings.create_http_status)
    }),
  )

  app.put('/account/:account_key/ted/:ted_key/validate_token', (c) =>
    inTx(sb, c, (tx) => {
      const ted = ownedTed(tx, c)
      const token = parseValidateToken(c.get('body'), ted.tfa.contact_type)
      switch (checkToken(tx, ted, token)) {
        case 'approved':
          approve(tx, ted)
          // [SUMMARY qi.md §4.2] 201 with ted_status "sent", 202 with "pending" (QI's validate_token page, not in
          // source-docs); which one: setting `approval_outcome`.
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
    }),
  )

  app.patch('/account/:account_key/ted/:ted_key/resend_token', (c) => {
    // [DOC 004] ted_key is typed uuidv4 and the page's only 400 schema code is QIT000001, so a malformed key is a
    // schema error, not TED000020. [INFERRED] the message is marshmallow's fields.UUID one, any UUID version.
    if (!isUuid(c.req.param('ted_key') ?? '')) return schemaFail({ ted_key: ['Not a valid UUID.'] })
    return inTx(sb, c, (tx) => {
      const ted = ownedTed(tx, c)
      switch (resendToken(tx, ted, parseResendToken(c.get('body')))) {
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
          // [DOC 004] "If no contact_type is sent, the token will be sent using the originally requested method"
          // and the page's only 400 schema code is QIT000001. [INFERRED] a TED created with contact_type device
          // has no method to resend by: a schema error, with this sandbox-made message in extra_fields.errors.
          return schemaFail({ contact_type: ['Required when the transfer was created with contact_type device.'] })
      }
    })
  })

  app.get('/account/:account_key/ted/:ted_key/:direction', (c) => {
    const direction = c.req.param('direction')
    if (direction !== 'outgoing' && direction !== 'incoming')
      return schemaFail({ ted_direction: ['Must be one of: incoming, outgoing.'] })
    // The sandbox only holds outgoing TEDs; an incoming lookup finds nothing, as for a foreign TED.
    return inTx(sb, c, (tx) => {
      if (direction === 'incoming') {
        ownedAccount(tx, c)
        return qiFail('TED000020')
      }
      return c.json(tedView(ownedTed(tx, c)))
    })
  })

  app.get('/account/:account_key/teds', (c) =>
    inTx(sb, c, (tx) => {
      const account = ownedAccount(tx, c)
      const q = parseListQuery(c.req.query(), settings)
      const matches =
        q.ted_direction === 'incoming'
          ? []
          : Object.values(tx.state.teds)
              .filter(
                (t) =>
                  t.account_key === account.account_key &&
                  (!q.request_control_key || t.request_control_key === q.request_control_key) &&
                  (!q.date_from || t.created_at.slice(0, 10) >= q.date_from) &&
                  (!q.date_to || t.created_at.slice(0, 10) <= q.date_to),
              )
              .sort((a, b) => b.seq - a.seq)
      const page = matches.slice((q.page - 1) * q.page_size, q.page * q.page_size)
      for (const ted of page) expireIfAbandoned(tx, ted)
      return c.json({
        data: page.map(tedView),
        pagination: { current_page: q.page, rows_per_page: q.page_size },
      })
    }),
  )
}
