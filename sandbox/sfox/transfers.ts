import type { Hono } from 'hono'
import { requireTransferPermission, type SfoxEnv } from './auth'
import { sfoxErrors } from './errors'
import { fail, readJsonObject } from './http'
import { checkCode, sendCode } from './otp'
import type { SfoxSettings } from './settings'
import { type SfoxState, type Transfer, transferOf } from './state'
import { requireStrings, sameTransferInput, validateCreate } from './validate'
import { transferJson } from './view'

// Only a PAYMENT waits for the end user's OTP; an in-flight PAYOUT (payout_initial_status INITIATED) does not.
const isPendingVerification = (t: Transfer) =>
  t.type === 'PAYMENT' && (t.status === 'PENDING' || t.status === 'INITIATED')

/** Create (page 001/003), confirm (§5.3), resend-confirmation (page 000), cancel (§5.5). */
export const mountTransferRoutes = (app: Hono<SfoxEnv>, state: SfoxState, settings: SfoxSettings) => {
  const view = (t: Transfer, justCompleted = false) => transferJson(settings, t, state.clock.now(), { justCompleted })
  const guardCreate = requireTransferPermission(settings, 'create')
  const guard = requireTransferPermission(settings, 'other')

  app.post('/v1/enterprise/transfer', guardCreate, async (c) => {
    const account = c.get('account')
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const valid = validateCreate(read.body, { acceptNumericStrings: settings.accept_numeric_strings })
    if (!valid.ok) return fail(c, 422, valid.error)
    const input = valid.value

    // [INFERRED] check order: account permission (guard), fields, transfer_id reuse, type permission, the user,
    // then the two documented 422s in the page's order: restricted currency, then insufficient funds.
    const existing = transferOf(account, input.transfer_id)
    if (existing) {
      // A replay never sends a second code nor moves funds again.
      if (settings.duplicate_transfer_id === 'return_existing' && sameTransferInput(existing, input)) {
        return c.json({ data: view(existing) }, settings.create_status_code)
      }
      return fail(c, 422, sfoxErrors.duplicateTransfer)
    }
    if (settings.enforce_transfer_permissions && !state.permissionsOf(account)[input.type]) {
      return fail(c, 403, sfoxErrors.transferPermission)
    }
    if (settings.require_known_users_for_transfers && !state.isKnownUser(account, input.user_id)) {
      return fail(c, 404, sfoxErrors.userNotFound)
    }
    if (state.isRestricted(account, input)) return fail(c, 422, sfoxErrors.restrictedCurrency)
    if (!state.hasFunds(account, input)) return fail(c, 422, sfoxErrors.insufficientFunds)

    // [DOC] page 001/003: a PAYOUT is processed at once; a PAYMENT stays pending until the end user verifies it.
    const isPayment = input.type === 'PAYMENT'
    const status = isPayment ? settings.payment_initial_status : settings.payout_initial_status
    const transfer = state.createTransfer(account, input, status)
    if (isPayment) sendCode(state, settings, transfer, 'created', transfer.created_at)
    return c.json({ data: view(transfer, status === 'COMPLETE') }, settings.create_status_code)
  })

  app.post('/v1/enterprise/transfer/confirm', guard, async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const valid = requireStrings(read.body, ['transfer_id', 'otp'])
    if (!valid.ok) return fail(c, 422, valid.error)
    const { transfer_id, otp } = valid.value
    const transfer = transferOf(c.get('account'), transfer_id)
    if (!transfer) return fail(c, 422, sfoxErrors.transferNotFound(transfer_id))
    if (!isPendingVerification(transfer)) return fail(c, 422, sfoxErrors.notPending)
    const check = checkCode(settings, transfer, otp, state.clock.now())
    if (check === 'expired') return fail(c, 422, sfoxErrors.codeExpired)
    if (check === 'burned') return fail(c, 422, sfoxErrors.tooManyAttempts)
    if (check === 'invalid') return fail(c, 422, sfoxErrors.invalidCode)
    state.setStatus(transfer, 'COMPLETE')
    const data = transferJson(settings, transfer, state.clock.now(), {
      justCompleted: true,
      includeDate: settings.confirm_includes_transfer_date,
    })
    return c.json({ data }, 201)
  })

  app.post('/v1/enterprise/transfer/resend-confirmation', guard, async (c) => {
    const read = await readJsonObject(c)
    if (!read.ok) return read.response
    const valid = requireStrings(read.body, ['transfer_id'])
    if (!valid.ok) return fail(c, 422, valid.error)
    const { transfer_id } = valid.value
    const transfer = transferOf(c.get('account'), transfer_id)
    if (!transfer) return fail(c, 422, sfoxErrors.transferNotFound(transfer_id))
    if (!isPendingVerification(transfer)) return fail(c, 422, sfoxErrors.notPending)
    const lastSent = transfer.otp?.sent_at
    if (
      settings.resend_cooldown_ms > 0 &&
      lastSent !== undefined &&
      state.clock.now() - lastSent < settings.resend_cooldown_ms
    ) {
      return fail(c, 422, sfoxErrors.resendTooSoon)
    }
    sendCode(state, settings, transfer, 'resend')
    return c.json({ data: { success: true } }, 200)
  })

  app.delete('/v1/enterprise/transfer/:transfer_id', guard, (c) => {
    const transferId = c.req.param('transfer_id')
    const transfer = transferOf(c.get('account'), transferId)
    if (!transfer) return fail(c, 422, sfoxErrors.transferNotFound(transferId))
    if (!isPendingVerification(transfer)) return fail(c, 422, sfoxErrors.notPending)
    // [INFERRED] §5.5: a cancelled transfer reads CANCELED in history; its held funds are released.
    state.setStatus(transfer, 'CANCELED')
    return c.json({ data: { success: true } }, 200)
  })
}
