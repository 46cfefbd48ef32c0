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

/** The sFOX calls of the flow: path, body, the answer's status (shared with the CPU judge's replay). */
export const SFOX_CALLS = {
  create: { path: '/v1/enterprise/transfer', body: createBody, status: 201 },
  resend: {
    path: '/v1/enterprise/transfer/resend-confirmation',
    body: (id: string) => ({ transfer_id: id }),
    status: 200,
  },
  confirmWrong: {
    path: '/v1/enterprise/transfer/confirm',
    body: (id: string) => ({ transfer_id: id, otp: WRONG_OTP }),
    status: 422,
  },
  confirm: {
    path: '/v1/enterprise/transfer/confirm',
    body: (id: string) => ({ transfer_id: id, otp: FIXED_OTP }),
    status: 201,
  },
}
export type SfoxCallName = keyof typeof SFOX_CALLS

/** The same calls straight to the sandbox, with an account of its own; each checks its answer. */
export const sfoxOps = (t: Transport, apiKey: string) => {
  const call = (name: SfoxCallName, id: string, mustContain?: string) => {
    const { path, body, status } = SFOX_CALLS[name]
    return expect(t.fetch(path, jsonInit('POST', body(id), apiKey)), status, `sfox ${name} ${id}`, mustContain)
  }
  return {
    create: (id: string) => call('create', id, '"PENDING"'),
    resend: (id: string) => call('resend', id),
    confirmWrong: (id: string) => call('confirmWrong', id),
    confirm: (id: string) => call('confirm', id, '"COMPLETE"'),
    /** The sandbox's own 404: Node's HTTP server and Hono, no work. The direct side's transport floor. */
    floor: () => expect(t.fetch('/nope', getInit()), 404, 'sfox floor'),
  }
}
