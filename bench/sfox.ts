import { expect, getInit, jsonInit, type Transport } from './http'
import { FIXED_OTP, WRONG_OTP } from './stack'

/** What the gateway itself sends sFOX for `paymentBody` (currency lower-cased, amounts as numbers). */
const createBody = (transferId: string) => ({
  transfer_id: transferId,
  description: 'Gift card',
  purpose: 'GOOD',
  type: 'PAYMENT',
  user_id: 'user-1',
  currency: 'eth',
  quantity: 0.1,
  rate: 2000,
})

/** The same calls straight to the sandbox, with an account of its own; each checks its answer. */
export const sfoxOps = (t: Transport, apiKey: string) => ({
  create: (id: string) =>
    expect(t.fetch('/v1/enterprise/transfer', jsonInit('POST', createBody(id), apiKey)), 201, `sfox create ${id}`, '"PENDING"'),
  resend: (id: string) =>
    expect(
      t.fetch('/v1/enterprise/transfer/resend-confirmation', jsonInit('POST', { transfer_id: id }, apiKey)),
      200,
      `sfox resend ${id}`,
    ),
  confirmWrong: (id: string) =>
    expect(
      t.fetch('/v1/enterprise/transfer/confirm', jsonInit('POST', { transfer_id: id, otp: WRONG_OTP }, apiKey)),
      422,
      `sfox wrong-code confirm ${id}`,
    ),
  confirm: (id: string) =>
    expect(
      t.fetch('/v1/enterprise/transfer/confirm', jsonInit('POST', { transfer_id: id, otp: FIXED_OTP }, apiKey)),
      201,
      `sfox confirm ${id}`,
      '"COMPLETE"',
    ),
  /** The sandbox's own 404: Node's HTTP server and Hono, no work. The direct side's transport floor. */
  floor: () => expect(t.fetch('/nope', getInit()), 404, 'sfox floor'),
})
