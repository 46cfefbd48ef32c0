import { randomUUID } from 'node:crypto'
import { signRequest } from '../sandbox/qi/signing'
import { tedBody } from '../test/helpers/qi'
import { expect, getInit, type Init, type Transport } from './http'
import { QI_TOKEN, QI_WRONG_TOKEN, type QiIntegration } from './qi-control'

export type QiCall = 'create' | 'resend' | 'confirmWrong' | 'confirm'

/** The TED the gateway itself sends QI for `tedBody` (see createQiProvider in src/providers/qi/client.ts). */
const { qi: ted } = tedBody('', '')
const createBody = () => ({
  request_control_key: randomUUID(),
  target_account: ted.target_account,
  transaction_amount: Number(ted.amount),
  tfa_info: { approver_document_number: ted.approver_document_number, contact_type: ted.contact_type },
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
    if (call === 'create') return { method: 'POST', path: `/account/${account}/ted`, body: createBody() }
    const ted = tedKeys.get(id)
    if (!ted) throw new Error(`qi ${call} ${id}: no TED was created for it`)
    const base = `/account/${account}/ted/${encodeURIComponent(ted)}`
    if (call === 'resend') return { method: 'PATCH', path: `${base}/resend_token`, body: {} }
    return {
      method: 'PUT',
      path: `${base}/validate_token`,
      body: { token: call === 'confirm' ? QI_TOKEN : QI_WRONG_TOKEN },
    }
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

  const send = (call: QiCall, id: string, status: number, mustContain: string) => {
    const request = signed.get(`${call} ${id}`)
    if (!request) throw new Error(`qi ${call} ${id}: not presigned`)
    signed.delete(`${call} ${id}`)
    return expect(t.fetch(request.path, request.init), status, `qi ${call} ${id}`, mustContain)
  }

  return {
    presign,
    create: async (id: string) => {
      const text = await send('create', id, 202, '"pending_2fa_approval"')
      tedKeys.set(id, (JSON.parse(text) as { ted_key: string }).ted_key)
    },
    resend: (id: string) => send('resend', id, 202, '"pending_2fa_approval"'),
    confirmWrong: (id: string) => send('confirmWrong', id, 400, 'TED000084'),
    confirm: (id: string) => send('confirm', id, 201, '"sent"'),
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
