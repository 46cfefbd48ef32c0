import { randomUUID } from 'node:crypto'
import type { QiSandbox, RefusalReason, Ted, TedStatus } from './state'
import { deliverWebhook, sendWebhook } from './webhooks'

/** Status changes after creation; each one sends the status webhook (reference §7.1). */

/** The refusal in QI's own webhook/GET examples, used when a rejection or return is forced without one. */
export const DEFAULT_REFUSAL: RefusalReason = {
  refusal_code: 1,
  enumerator: 'conta_destinatario_encerrada',
  description: 'Conta Destinatária do Crédito Encerrada',
}

const applyStatus = (sb: QiSandbox, ted: Ted, status: TedStatus, refusal?: RefusalReason) => {
  ted.ted_status = status
  if (refusal) ted.refusal_reason = refusal
  if (status === 'sent') ted.transaction_key ??= randomUUID()
  // [INFERRED] Money comes back when a TED is refused or returned (documented for non-2FA TEDs).
  if ((status === 'rejected' || status === 'returned') && ted.debited > 0) {
    const account = sb.state.accounts.get(ted.account_key)
    if (account && account.balance !== null) account.balance += ted.debited
    ted.debited = 0
  }
}

/** Changes the status and sends the webhook in the background. */
export const changeStatus = (sb: QiSandbox, ted: Ted, status: TedStatus, refusal?: RefusalReason): void => {
  applyStatus(sb, ted, status, refusal)
  sendWebhook(sb, ted)
}

/** Changes the status and waits for the webhook delivery (control routes answer with it). */
export const changeStatusAndDeliver = (sb: QiSandbox, ted: Ted, status: TedStatus, refusal?: RefusalReason) => {
  applyStatus(sb, ted, status, refusal)
  return deliverWebhook(sb, ted)
}

/** A right token: "sent" at once, or "pending" and "sent" after `settle_delay_ms` (setting `approval_outcome`). */
export const approve = (sb: QiSandbox, ted: Ted): void => {
  if (sb.settings.approval_outcome === 'sent') return changeStatus(sb, ted, 'sent')
  changeStatus(sb, ted, 'pending')
  const timer = setTimeout(() => {
    sb.state.timers.delete(timer)
    if (ted.ted_status === 'pending') changeStatus(sb, ted, 'sent')
  }, sb.settings.settle_delay_ms)
  timer.unref?.()
  sb.state.timers.add(timer)
}

/**
 * [INFERRED] (setting `abandoned_after_ms`, off by default) whether an unapproved TED ends on its own
 * is undocumented; when set, a TED still pending_2fa_approval that long after creation is rejected the
 * next time it is looked at.
 */
export const expireIfAbandoned = (sb: QiSandbox, ted: Ted): void => {
  const after = sb.settings.abandoned_after_ms
  if (after !== null && ted.ted_status === 'pending_2fa_approval' && sb.clock.now() - ted.created_ms >= after)
    changeStatus(sb, ted, 'rejected', {})
}
