import { tedBody } from '../test/helpers/qi'
import { paymentBody } from '../test/helpers/sfox'
import { expect, getInit, type Init, jsonInit, type Transport } from './http'
import { QI_TOKEN, QI_WRONG_TOKEN, type QiIntegration } from './qi-control'
import { FIXED_OTP, WRONG_OTP } from './stack'

export type Connections = {
  sfox: { url: string; apiKey: string }
  qi?: { url: string; integration: QiIntegration; privateKeyPem: string }
}

/**
 * A partner the bench drives, through the admin API: connected to the sFOX sandbox (and the QI
 * sandbox when given), with no resend cooldown and the highest resend limit the admin API takes,
 * so resends can be measured back to back.
 */
/** Resends the bench partner may make per transfer (the highest the admin API takes). */
export const BENCH_RESEND_LIMIT = 20

export const setupPartner = async (
  t: Transport,
  adminToken: string,
  connections: Connections,
  name = 'Bench partner',
) => {
  const admin = (method: string, path: string, body: unknown, status: number) =>
    expect(t.fetch(`/admin${path}`, jsonInit(method, body, adminToken)), status, `admin ${method} ${path}`)
  const partner = JSON.parse(
    await admin('POST', '/partners', { name, resend_limit: BENCH_RESEND_LIMIT, resend_cooldown_seconds: 0 }, 201),
  ) as { id: string }
  const { sfox, qi } = connections
  await admin(
    'PUT',
    `/partners/${partner.id}/connections/sfox?mode=test`,
    { api_key: sfox.apiKey, base_url: sfox.url },
    200,
  )
  if (qi) {
    await admin(
      'PUT',
      `/partners/${partner.id}/connections/qi?mode=test`,
      {
        api_client_key: qi.integration.apiClientKey,
        private_key_pem: qi.privateKeyPem,
        qi_public_key_pem: qi.integration.qiPublicKeyPem,
        base_url: qi.url,
        account_keys: [qi.integration.accountKey],
      },
      200,
    )
  }
  /** A new API key of the partner (the key cache is per key, so a new key starts cold). */
  const issueKey = async () =>
    (JSON.parse(await admin('POST', `/partners/${partner.id}/api-keys`, { mode: 'test' }, 201)) as { key: string }).key
  return { id: partner.id, issueKey }
}

/** One partner request as sent, and the answer it must get (status, and a string its body holds). */
export type PartnerRequest = { path: string; init: Init; status: number; mustContain?: string }

/** The sFOX flow's requests (create → resend → wrong-code confirm → confirm → GET), shared by the bench's ops and the CPU judge's replay. */
export const sfoxFlowRequests = (key: string) => ({
  create: (id: string): PartnerRequest => ({
    path: '/v1/transfers',
    init: jsonInit('POST', paymentBody(id), key),
    status: 201,
    mustContain: '"pending_verification"',
  }),
  resend: (id: string): PartnerRequest => ({
    path: `/v1/transfers/${id}/resend`,
    init: jsonInit('POST', {}, key),
    status: 200,
  }),
  confirmWrong: (id: string): PartnerRequest => ({
    path: `/v1/transfers/${id}/confirm`,
    init: jsonInit('POST', { code: WRONG_OTP }, key),
    status: 422,
    mustContain: 'verification_code_invalid',
  }),
  confirm: (id: string): PartnerRequest => ({
    path: `/v1/transfers/${id}/confirm`,
    init: jsonInit('POST', { code: FIXED_OTP }, key),
    status: 200,
    mustContain: '"completed"',
  }),
  get: (id: string): PartnerRequest => ({ path: `/v1/transfers/${id}`, init: getInit(key), status: 200 }),
})
export type SfoxFlowStep = keyof ReturnType<typeof sfoxFlowRequests>

/** The partner API calls the bench measures; each checks the answer it must get. */
export const gatewayOps = (t: Transport, key: () => string, qiAccountKey = '') => {
  const send = (step: SfoxFlowStep, id: string) => {
    const { path, init, status, mustContain } = sfoxFlowRequests(key())[step](id)
    return expect(t.fetch(path, init), status, `${t.name} ${step} ${id}`, mustContain)
  }
  return {
    create: (id: string) => send('create', id),
    resend: (id: string) => send('resend', id),
    confirmWrong: (id: string) => send('confirmWrong', id),
    confirm: (id: string) => send('confirm', id),
    get: (id: string) => send('get', id),

    qiCreate: (id: string) =>
      expect(
        t.fetch('/v1/transfers', jsonInit('POST', tedBody(id, qiAccountKey), key())),
        201,
        `${t.name} QI create ${id}`,
        '"pending_verification"',
      ),
    qiResend: (id: string) =>
      expect(t.fetch(`/v1/transfers/${id}/resend`, jsonInit('POST', {}, key())), 200, `${t.name} QI resend ${id}`),
    qiConfirmWrong: (id: string) =>
      expect(
        t.fetch(`/v1/transfers/${id}/confirm`, jsonInit('POST', { code: QI_WRONG_TOKEN }, key())),
        422,
        `${t.name} QI wrong-token confirm ${id}`,
        'verification_code_invalid',
      ),
    qiConfirm: (id: string) =>
      expect(
        t.fetch(`/v1/transfers/${id}/confirm`, jsonInit('POST', { code: QI_TOKEN }, key())),
        200,
        `${t.name} QI confirm ${id}`,
        '"completed"',
      ),

    /**
     * An sFOX PAYOUT: completed at once, so one request announces two events (transfer.created and
     * transfer.completed). Resolves with the moment the gateway's answer arrived (status line and
     * headers), before the body is read and checked.
     */
    payout: async (id: string): Promise<number> => {
      const answer = await t.fetch('/v1/transfers', jsonInit('POST', paymentBody(id, { type: 'PAYOUT' }), key()))
      const answeredAt = performance.now()
      await expect(Promise.resolve(answer), 201, `${t.name} PAYOUT ${id}`, '"completed"')
      return answeredAt
    },
    /** Registers a receiver for every event type; answers the signing secret (shown once). */
    registerEndpoint: async (url: string) =>
      (
        JSON.parse(
          await expect(
            t.fetch('/v1/webhook-endpoints', jsonInit('POST', { url, description: 'bench receiver' }, key())),
            201,
            `${t.name} webhook endpoint`,
          ),
        ) as { secret: string }
      ).secret,

    /** Loads the current key into the Worker's key cache (a 404: no such transfer). */
    prime: () => expect(t.fetch('/v1/transfers/bench-prime', getInit(key())), 404, `${t.name} prime`),
    /** No auth, no DB, no provider: a 404 problem. The transport and routing floor. */
    floor: () => expect(t.fetch('/nope', getInit()), 404, `${t.name} floor`),
  }
}

export type GatewayOps = ReturnType<typeof gatewayOps>
