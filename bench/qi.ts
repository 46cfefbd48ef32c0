import { randomUUID } from 'node:crypto'
import { signRequest } from '../sandbox/qi/signing'
import { tedBody } from '../test/helpers/qi'
import type { PartnerRequest } from './gateway'
import { expect, getInit, type Init, jsonInit, type Transport } from './http'
import type { QiReplay } from './io-probe'
import { QI_TOKEN, QI_WRONG_TOKEN, type QiIntegration } from './qi-control'

export type QiCall = 'create' | 'resend' | 'confirmWrong' | 'confirm'

/** The TED the gateway itself sends QI for `tedBody` (see createQiProvider in src/providers/qi/client.ts). */
const { qi: ted } = tedBody('', '')
const createBody = (requestControlKey: string = randomUUID()) => ({
  request_control_key: requestControlKey,
  target_account: ted.target_account,
  transaction_amount: Number(ted.amount),
  tfa_info: { approver_document_number: ted.approver_document_number, contact_type: ted.contact_type },
})
/** A resend names the channel the TED was created with (the gateway passes the transfer's verificationChannel). */
const resendBody = () => ({ contact_type: ted.contact_type })
const confirmBody = (call: 'confirm' | 'confirmWrong') => ({ token: call === 'confirm' ? QI_TOKEN : QI_WRONG_TOKEN })

/** Each QI call: its method, path after the TED's, the status QI answers, a string the answer holds. */
const QI_CALLS = {
  create: { method: 'POST', suffix: null, status: 202, mustContain: '"pending_2fa_approval"' },
  resend: { method: 'PATCH', suffix: '/resend_token', status: 202, mustContain: '"pending_2fa_approval"' },
  confirmWrong: { method: 'PUT', suffix: '/validate_token', status: 400, mustContain: 'TED000084' },
  confirm: { method: 'PUT', suffix: '/validate_token', status: 201, mustContain: '"sent"' },
} as const satisfies Record<QiCall, { method: string; suffix: string | null; status: number; mustContain: string }>

const MARK = '@@request-control-key@@'

/**
 * The QI call a gateway request makes, for the CPU judge's replay (bench/io-probe.ts): the same method,
 * path and body bytes, the body split around the request_control_key (the replay's id) for a create,
 * the path around the TED key (the one the replay's create got) for the others.
 */
export const qiReplayCall = (call: QiCall, integration: QiIntegration, privateKeyPem: string): QiReplay => {
  const { method, suffix, status } = QI_CALLS[call]
  const account = `/account/${encodeURIComponent(integration.accountKey)}`
  const body = call === 'create' ? createBody(MARK) : call === 'resend' ? resendBody() : confirmBody(call)
  const [bodyBefore = '', bodyAfter = ''] = JSON.stringify(body).split(MARK)
  return {
    method,
    pathBefore: suffix === null ? `${account}/ted` : `${account}/ted/`,
    pathAfter: suffix ?? '',
    tedKeyInPath: suffix !== null,
    bodyBefore,
    bodyAfter,
    idInBody: call === 'create',
    status,
    apiClientKey: integration.apiClientKey,
    privateKeyPem,
    qiPublicKeyPem: integration.qiPublicKeyPem,
  }
}

/** The partner's QI requests to the gateway (create TED → resend → wrong-token confirm → confirm), as the bench's QI ops send them. */
export const qiFlowRequests = (key: string, accountKey: string): Record<QiCall, (id: string) => PartnerRequest> => ({
  create: (id) => ({
    path: '/v1/transfers',
    init: jsonInit('POST', tedBody(id, accountKey), key),
    status: 201,
    mustContain: '"pending_verification"',
  }),
  resend: (id) => ({ path: `/v1/transfers/${id}/resend`, init: jsonInit('POST', {}, key), status: 200 }),
  confirmWrong: (id) => ({
    path: `/v1/transfers/${id}/confirm`,
    init: jsonInit('POST', { code: QI_WRONG_TOKEN }, key),
    status: 422,
    mustContain: 'verification_code_invalid',
  }),
  confirm: (id) => ({
    path: `/v1/transfers/${id}/confirm`,
    init: jsonInit('POST', { code: QI_TOKEN }, key),
    status: 200,
    mustContain: '"completed"',
  }),
})

type Signed = { path: string; init: Init }

/**
 * The same calls straight to the QI sandbox, as a v2 client makes them (API-CLIENT-KEY plus an ES512
 * JWT over the body's MD5, method, uri and time). Every request is signed by `presign` before its
 * phase starts, so the timed op is the sandbox's work and the transport only: QI's answers are not
 * verified either. The gateway does both inside its timed op; that is gateway time, not I/O.
 */
export const qiOps = (t: Transport, integration: QiIntegration, privateKeyPem: string) => {
  const account = encodeURIComponent(integration.accountKey)
  const tedKeys = new Map<string, string>()
  const signed = new Map<string, Signed>()

  const request = (call: QiCall, id: string): { method: string; path: string; body: unknown } => {
    const { method, suffix } = QI_CALLS[call]
    if (call === 'create') return { method, path: `/account/${account}/ted`, body: createBody() }
    const ted = tedKeys.get(id)
    if (!ted) throw new Error(`qi ${call} ${id}: no TED was created for it`)
    const path = `/account/${account}/ted/${encodeURIComponent(ted)}${suffix}`
    return { method, path, body: call === 'resend' ? resendBody() : confirmBody(call) }
  }

  const sign = async (call: QiCall, id: string): Promise<Signed> => {
    const { method, path, body } = request(call, id)
    const text = JSON.stringify(body)
    const headers = await signRequest({
      method,
      uri: path,
      body: text,
      privateKeyPem,
      apiClientKey: integration.apiClientKey,
    })
    return { path, init: { method, headers: { ...headers, accept: 'application/json' }, body: text } }
  }

  /** Signs one request per id for `call`; a signature stays valid for QI's 5-minute window. */
  const presign = async (call: QiCall, ids: readonly string[]) => {
    for (const id of ids) signed.set(`${call} ${id}`, await sign(call, id))
  }

  const send = (call: QiCall, id: string) => {
    const request = signed.get(`${call} ${id}`)
    if (!request) throw new Error(`qi ${call} ${id}: not presigned`)
    signed.delete(`${call} ${id}`)
    const { status, mustContain } = QI_CALLS[call]
    return expect(t.fetch(request.path, request.init), status, `qi ${call} ${id}`, mustContain)
  }

  return {
    presign,
    create: async (id: string) => {
      const text = await send('create', id)
      tedKeys.set(id, (JSON.parse(text) as { ted_key: string }).ted_key)
    },
    resend: (id: string) => send('resend', id),
    confirmWrong: (id: string) => send('confirmWrong', id),
    confirm: (id: string) => send('confirm', id),
    /** What a request signature costs a Node client (ES512 over P-521 with jose): a reference figure. */
    signOnly: async () => {
      await signRequest({
        method: 'POST',
        uri: `/account/${account}/ted`,
        body: JSON.stringify(createBody()),
        privateKeyPem,
        apiClientKey: integration.apiClientKey,
      })
    },
    /** A control route's 404 (no auth, no signing): the QI sandbox's transport floor. */
    floor: () => expect(t.fetch('/_sandbox/nope', getInit()), 404, 'qi floor'),
  }
}
