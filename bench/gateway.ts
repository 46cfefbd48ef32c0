import { paymentBody } from '../test/helpers/sfox'
import { expect, getInit, jsonInit, type Transport } from './http'
import { FIXED_OTP, WRONG_OTP } from './stack'

/**
 * The partner the bench drives: connected to the sFOX sandbox, with no resend cooldown and the
 * highest resend limit the admin API takes, so resends can be measured back to back.
 */
export const setupPartner = async (t: Transport, adminToken: string, sfox: { url: string; apiKey: string }) => {
  const admin = (method: string, path: string, body: unknown, status: number) =>
    expect(t.fetch(`/admin${path}`, jsonInit(method, body, adminToken)), status, `admin ${method} ${path}`)
  const partner = JSON.parse(
    await admin('POST', '/partners', { name: 'Bench partner', resend_limit: 20, resend_cooldown_seconds: 0 }, 201),
  ) as { id: string }
  await admin('PUT', `/partners/${partner.id}/connections/sfox`, { api_key: sfox.apiKey, base_url: sfox.url }, 200)
  /** A new API key of the partner (the key cache is per key, so a new key starts cold). */
  const issueKey = async () =>
    (JSON.parse(await admin('POST', `/partners/${partner.id}/api-keys`, { mode: 'test' }, 201)) as { key: string }).key
  return { issueKey }
}

/** The partner API calls the bench measures; each checks the answer it must get. */
export const gatewayOps = (t: Transport, key: () => string) => ({
  create: (id: string) =>
    expect(t.fetch('/v1/transfers', jsonInit('POST', paymentBody(id), key())), 201, `${t.name} create ${id}`, '"pending_verification"'),
  resend: (id: string) =>
    expect(t.fetch(`/v1/transfers/${id}/resend`, jsonInit('POST', {}, key())), 200, `${t.name} resend ${id}`),
  confirmWrong: (id: string) =>
    expect(
      t.fetch(`/v1/transfers/${id}/confirm`, jsonInit('POST', { code: WRONG_OTP }, key())),
      422,
      `${t.name} wrong-code confirm ${id}`,
      'verification_code_invalid',
    ),
  confirm: (id: string) =>
    expect(t.fetch(`/v1/transfers/${id}/confirm`, jsonInit('POST', { code: FIXED_OTP }, key())), 200, `${t.name} confirm ${id}`, '"completed"'),
  get: (id: string) => expect(t.fetch(`/v1/transfers/${id}`, getInit(key())), 200, `${t.name} get ${id}`),
  /** Loads the current key into the Worker's key cache (a 404: no such transfer). */
  prime: () => expect(t.fetch('/v1/transfers/bench-prime', getInit(key())), 404, `${t.name} prime`),
  /** No auth, no DB, no provider: a 404 problem. The transport and routing floor. */
  floor: () => expect(t.fetch('/nope', getInit()), 404, `${t.name} floor`),
})
