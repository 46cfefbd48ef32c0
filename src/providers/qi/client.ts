import type { Transfer } from '../../../db/schema'
import { secretsEqual } from '../../lib/crypto'
import { fieldProblem } from '../../lib/problem'
import type { TransferStatus } from '../../rules/transfer-states'
import { callProvider, type ProviderResponse, withRetryAfter } from '../outbound'
import {
  type AdapterOptions,
  fail,
  ok,
  type ProviderError,
  type ProviderSnapshot,
  type Result,
  type TransferProvider,
} from '../provider'
import { checkQiConnection } from './connection-check'
import { errorOf, type QiAnswer, type QiTed, snapshotOf } from './mapping'
import { pythonJsonDumps } from './python-json'
import { decodeEncodedBody, md5Hex, signRequest, verifySigned, verifyV1Answer } from './signing'

export type QiConnection = {
  baseUrl: string
  apiClientKey: string
  privateKeyPem: string
  qiPublicKeyPem: string
  /** The QI accounts this partner may move money from (the connection's settings). */
  accountKeys: readonly string[]
  /** Where QI posts webhooks as QI signs it, when a proxy or path prefix makes it differ from ours. */
  webhookUri?: string
  /** Whether QI wants the query string inside the signed uri (learned by the connection check). */
  signsQuery?: boolean
}

export type QiDetails = {
  account_key: string
  amount: string
  target_account: Record<string, string>
  approver_document_number: string
  contact_type: 'sms' | 'email'
}

type CallOptions = Pick<AdapterOptions, 'timeoutMs' | 'signatureToleranceMs' | 'facts' | 'onTiming' | 'fetch'> & {
  now?: () => number
}

export const createQiProvider = (connection: QiConnection, options: CallOptions): TransferProvider => {
  const now = options.now ?? Date.now
  const codeTtlMs = options.facts.codeTtlMs ?? 0

  /**
   * One signed call; a signed answer whose signature fails is not trusted (treated as an outage).
   * `signQuery` overrides whether the signed uri carries the query (the connection check tries both).
   */
  const request = async (
    method: string,
    path: string,
    payload?: unknown,
    signing: { signQuery?: boolean } = {},
  ): Promise<Result<QiAnswer>> => {
    // Serialized once: the MD5 in the signature must be of exactly these bytes.
    const body = payload === undefined ? undefined : JSON.stringify(payload)
    const url = new URL(path, 'http://x')
    const withQuery = `${url.pathname}${url.search}`
    const uri = (signing.signQuery ?? connection.signsQuery) ? withQuery : url.pathname
    const signature = await signRequest({
      method,
      uri,
      body,
      privateKeyPem: connection.privateKeyPem,
      apiClientKey: connection.apiClientKey,
      now: now(),
    })
    const result = await callProvider({
      provider: 'qi',
      url: new URL(path.replace(/^\//, ''), connection.baseUrl.replace(/\/?$/, '/')).toString(),
      method,
      headers: {
        ...signature,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body,
      timeoutMs: options.timeoutMs,
      onTiming: options.onTiming,
      fetch: options.fetch,
    })
    if (!result.ok) return result
    // QI's pages do not say which uri form QI signs its answers with, whatever form it wants from us:
    // the path alone or path + query are both this request's.
    const answer = await authenticAnswer(result.response, method, [...new Set([url.pathname, withQuery])])
    if (!answer.ok) return answer
    const { status, headers } = result.response
    const signed =
      headers.has('authorization') ||
      typeof (result.response.json as { encoded_body?: unknown } | null)?.encoded_body === 'string'
    if (status >= 200 && status < 300) return ok({ status, body: answer.value, headers, signed })
    return fail(withRetryAfter(errorOf(status, answer.value), result.response.headers))
  }

  /** Unsigned answers are taken as they are (QI does not document signing v2 answers); signed ones must verify. */
  const authenticAnswer = async (
    response: ProviderResponse,
    method: string,
    uris: readonly string[],
  ): Promise<Result<unknown>> => {
    const untrusted = (reason: string): Result<unknown> =>
      fail({
        kind: 'unavailable',
        provider: 'qi',
        status: response.status,
        code: null,
        message: `QI's answer is not authentic: ${reason}`,
        untrusted: true,
      })
    const encoded = (response.json as { encoded_body?: unknown } | null)?.encoded_body
    const authorization = response.headers.get('authorization') ?? undefined
    // What both header forms are checked against: this request, QI's key, a fresh clock.
    const expected = {
      method,
      uri: uris[0]!,
      uris,
      qiPublicKeyPem: connection.qiPublicKeyPem,
      now: now(),
      toleranceMs: options.signatureToleranceMs,
    }
    if (authorization?.startsWith('QIT ')) {
      const verified = await verifyV1Answer({
        ...expected,
        authorization,
        apiClientKey: connection.apiClientKey,
        answerApiClientKey: response.headers.get('api-client-key'),
        encodedBody: typeof encoded === 'string' ? encoded : undefined,
      })
      if (!verified.ok) return untrusted(verified.reason)
    }
    if (typeof encoded === 'string') {
      const decoded = await decodeEncodedBody(encoded, connection.qiPublicKeyPem)
      return decoded ? ok(decoded) : untrusted('encoded_body does not verify')
    }
    if (authorization && !authorization.startsWith('QIT ')) {
      const verified = await verifySigned({ ...expected, authorization, body: response.text })
      if (!verified.ok) return untrusted(verified.reason)
    }
    return ok(response.json)
  }

  const accountOf = (transfer: Transfer) => encodeURIComponent((transfer.details as QiDetails).account_key)
  const controlKeyOf = (transfer: Transfer) =>
    String((transfer.providerState as { request_control_key?: string } | null)?.request_control_key)

  /** After a lost answer, QI is asked whether it has the TED before anything is sent again. */
  const findByControlKey = async (transfer: Transfer): Promise<Result<QiTed | null>> => {
    const query = new URLSearchParams({ request_control_key: controlKeyOf(transfer), ted_direction: 'outgoing' })
    const result = await request('GET', `/account/${accountOf(transfer)}/teds?${query}`)
    if (!result.ok) return result
    const rows = (result.value.body as { data?: QiTed[] } | null)?.data
    return ok(Array.isArray(rows) ? (rows.find((t) => t.request_control_key === controlKeyOf(transfer)) ?? null) : null)
  }

  const pendingSnapshot = (ted: QiTed, channel: string) => ({
    ...snapshotOf(ted),
    channel,
    codeExpiresAt: ted.ted_status === 'pending_2fa_approval' ? now() + codeTtlMs : null,
  })

  const fetchStatus = async (transfer: Transfer): Promise<Result<ProviderSnapshot>> => {
    if (!transfer.providerReference) {
      const found = await findByControlKey(transfer)
      if (!found.ok) return found
      if (!found.value) return fail(notFound())
      return ok(snapshotOf(found.value, transfer.status as TransferStatus))
    }
    const result = await request(
      'GET',
      `/account/${accountOf(transfer)}/ted/${encodeURIComponent(transfer.providerReference)}/outgoing`,
    )
    return result.ok ? ok(snapshotOf(result.value.body as QiTed, transfer.status as TransferStatus)) : result
  }

  return {
    name: 'qi',

    // A fresh request_control_key per transfer, stored before QI is called: it is how a retry finds the TED.
    prepare: () => ({ providerReference: null, providerState: { request_control_key: crypto.randomUUID() } }),

    async create(transfer, attempt) {
      const details = transfer.details as QiDetails
      if (attempt.resumed) {
        const found = await findByControlKey(transfer)
        // An earlier attempt may have made the TED: a failed lookup leaves the outcome unknown.
        if (!found.ok) return fail({ ...found.error, kind: 'unavailable' })
        if (found.value) return ok(pendingSnapshot(found.value, details.contact_type))
      }
      const result = await request('POST', `/account/${accountOf(transfer)}/ted`, {
        request_control_key: controlKeyOf(transfer),
        target_account: details.target_account,
        transaction_amount: Number(details.amount),
        tfa_info: { approver_document_number: details.approver_document_number, contact_type: details.contact_type },
      })
      if (result.ok) return ok(pendingSnapshot(result.value.body as QiTed, details.contact_type))
      // A TED with this request_control_key exists already (a concurrent or earlier attempt): adopt it.
      if (result.error.kind !== 'duplicate') return result
      const found = await findByControlKey(transfer)
      if (!found.ok) return fail({ ...found.error, kind: 'unavailable' })
      if (found.value) return ok(pendingSnapshot(found.value, details.contact_type))
      // QI has it but does not list it yet: unknown, so the transfer is kept for a retry, not forgotten.
      return fail({ ...result.error, kind: 'unavailable', message: `${result.error.message} (not yet listed by QI)` })
    },

    async confirm(transfer, code) {
      const result = await request(
        'PUT',
        `/account/${accountOf(transfer)}/ted/${encodeURIComponent(transfer.providerReference!)}/validate_token`,
        {
          token: code,
        },
      )
      return result.ok ? ok(snapshotOf(result.value.body as QiTed)) : result
    },

    async resend(transfer, channel) {
      const result = await request(
        'PATCH',
        `/account/${accountOf(transfer)}/ted/${encodeURIComponent(transfer.providerReference!)}/resend_token`,
        channel ? { contact_type: channel } : {},
      )
      return result.ok ? ok({ channel: channel ?? null, codeExpiresAt: now() + codeTtlMs }) : result
    },

    // QI has no cancel for a single TED (reference §4.6): the gateway cancels on its side.
    cancel: null,

    checkConnection: () =>
      checkQiConnection({
        request,
        baseUrl: connection.baseUrl,
        apiClientKey: connection.apiClientKey,
        timeoutMs: options.timeoutMs,
        toleranceMs: options.signatureToleranceMs,
      }),

    assertCreateAllowed(details) {
      const { account_key } = details as QiDetails
      if (connection.accountKeys.includes(account_key)) return
      throw fieldProblem(
        'qi.account_key',
        { code: 'not_allowed', message: 'not one of your QI accounts' },
        `This partner may not move money from QI account ${account_key}.`,
        'account_not_allowed',
      )
    },

    async verifyWebhook(request) {
      if (!(await secretsEqual(request.headers.get('api-client-key') ?? '', connection.apiClientKey))) {
        return { ok: false, reason: "API-CLIENT-KEY is not this partner's" }
      }
      // QI may sign the route's path, the full URL it posted to, or (behind a proxy) what the operator
      // configured; and hash the raw body or its json.dumps form (QI's sample): either is theirs.
      const uris = [request.path, request.url, connection.webhookUri].filter((u): u is string => !!u)
      const dumped = pythonJsonDumps(request.body)
      const bodyDigests = [await md5Hex(request.body), ...(dumped === null ? [] : [await md5Hex(dumped)])]
      return verifySigned({
        authorization: request.headers.get('authorization') ?? undefined,
        body: request.body,
        method: request.method,
        uri: request.path,
        uris,
        bodyDigests,
        qiPublicKeyPem: connection.qiPublicKeyPem,
        now: now(),
        toleranceMs: options.signatureToleranceMs,
      })
    },

    async fetchMany(transfers) {
      const known = new Map<string, ProviderSnapshot | null>()
      for (const transfer of transfers) {
        const result = await fetchStatus(transfer)
        if (result.ok) known.set(transfer.id, result.value)
        else if (result.error.kind === 'not_found') known.set(transfer.id, null)
        else return result
      }
      return ok(known)
    },

    fetchStatus,
  }
}

const notFound = (): ProviderError => ({
  kind: 'not_found',
  provider: 'qi',
  status: 200,
  code: null,
  message: 'QI has no TED with this request_control_key',
})
