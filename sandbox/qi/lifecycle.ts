import { randomUUID } from 'node:crypto'
import type { Tx } from './effects'
import { getOwn, type RefusalReason, type Ted, type TedStatus } from './state'
import { queueWebhook } from './webhooks'

/** Status changes after creation; each one sends the status webhook (reference §7.1). */

/** The refusal in QI's own webhook/GET examples, used when a rejection or return is forced without one. */
export const DEFAULT_REFUSAL: RefusalReason = {
  refusal_code: 1,
  enumerator: 'conta_destinatario_encerrada',
  description: 'Conta Destinatária do Crédito Encerrada',
}

const applyStatus = (tx: Tx, ted: Ted, status: TedStatus, refusal?: RefusalReason) => {
  ted.ted_status = status
  if (refusal) ted.refusal_reason = refusal
  if (status === 'sent') ted.transaction_key ??= randomUUID()
  // [INFERRED] Money comes back when a TED is refused or returned (documented for non-2FA TEDs).
  if ((status === 'rejected' || status === 'returned') && ted.debited > 0) {
    const account = getOwn(tx.state.accounts, ted.account_key)
    if (account && account.balance !== null) account.balance += ted.debited
    ted.debited = 0
  }
}

/** Changes the status and queues its webhook (sent when the transaction commits); returns the webhook's record. */
export const changeStatus = (tx: Tx, ted: Ted, status: TedStatus, refusal?: RefusalReason) => {
  applyStatus(tx, ted, status, refusal)
  return queueWebhook(tx, ted)
}

/**
 * A right token: "sent" at once, or "pending" and "sent" `settle_delay_ms` later (setting `approval_outcome`).
 * The settlement is the TED's `settle_at`, applied by `advanceDue`; the wake-up effect only makes it punctual.
 */
export const approve = (tx: Tx, ted: Ted): void => {
  if (tx.sb.settings.approval_outcome === 'sent') {
    changeStatus(tx, ted, 'sent')
    return
  }
  changeStatus(tx, ted, 'pending')
  ted.settle_at = Date.now() + tx.sb.settings.settle_delay_ms
  tx.effects.push({ type: 'wake', api_client_key: ted.api_client_key, at: ted.settle_at })
}

/**
 * Settles the integration's TEDs whose `settle_at` has come (wall-clock `now`), oldest first: one still
 * "pending" becomes "sent" with its webhook; one whose status was forced meanwhile stays as it is.
 */
export const advanceDue = (tx: Tx, now: number): void => {
  const due = Object.values(tx.state.teds)
    .filter((t) => t.settle_at !== null && t.settle_at <= now)
    .sort((a, b) => a.settle_at! - b.settle_at! || a.seq - b.seq)
  for (const ted of due) {
    ted.settle_at = null
    if (ted.ted_status === 'pending') changeStatus(tx, ted, 'sent')
  }
}

/**
 * [INFERRED] (setting `abandoned_after_ms`, off by default) whether an unapproved TED ends on its own
 * is undocumented; when set, a TED still pending_2fa_approval that long after creation is rejected the
 * next time it is looked at.
 */
export const expireIfAbandoned = (tx: Tx, ted: Ted): void => {
  const after = tx.sb.settings.abandoned_after_ms
  if (after !== null && ted.ted_status === 'pending_2fa_approval' && tx.sb.clock.now() - ted.created_ms >= after)
    changeStatus(tx, ted, 'rejected', {})
}
