import type { MiddlewareHandler } from 'hono'
import { isAuthTestPath } from './auth-test'
import { generateP521KeyPair, type KeyPairPem } from './keys'
import { isoTimestamp, md5Hex, rfc1123, signV1, signV2 } from './signing'
import { type QiEnv, type QiSandbox, signatureNow } from './state'

let strangerKey: KeyPairPem | undefined

/**
 * Signs every API response with QI's private key (setting `response_signing`, [INFERRED]: whether and
 * how QI signs v2 responses is not public). Claims carry the request's method and path (with the query
 * string when `answer_signed_uri` is "path_and_query").
 * - "header": body untouched; AUTHORIZATION = ES512 JWT {payload_md5: md5(body bytes), timestamp, method, uri}.
 * - "encoded_body" (v1): body {"encoded_body": JWT(payload)}; AUTHORIZATION = "QIT <key>:" + JWT {sub, signature}.
 * Both add API-CLIENT-KEY echoing the partner's key. Errors are signed too (QI's v1 sample decodes them).
 * The authentication test endpoint answers v1 requests in the v1 form whenever answers are signed (see auth-test.ts).
 * Every API answer, signed or not, carries a `Date` header from the sandbox's clock (`clock_offset_ms` included).
 */
export const signResponses =
  (sb: QiSandbox): MiddlewareHandler<QiEnv> =>
  async (c, next) => {
    if (c.req.path.startsWith('/_sandbox/')) return next()
    await next()
    const now = signatureNow(sb)
    const setting = sb.settings.response_signing
    const v1 = c.get('scheme') === 'v1'
    const byScheme = setting === 'by_scheme' || (setting !== 'none' && v1 && isAuthTestPath(c.req.path))
    const mode = byScheme ? (v1 ? 'encoded_body' : 'header') : setting
    if (mode === 'none') {
      c.header('Date', rfc1123(now))
      return
    }

    const res = c.res
    const text = await res.text()
    const method = c.req.method
    const url = new URL(c.req.url)
    // Setting `answer_signed_uri` ([INFERRED]): the path alone, or with the query string as it was sent.
    const uri = sb.settings.answer_signed_uri === 'path_and_query' ? `${url.pathname}${url.search}` : url.pathname
    const apiKey = c.req.header('api-client-key') ?? ''
    const headers = new Headers(res.headers)
    headers.delete('content-length')
    headers.set('Date', rfc1123(now))
    let body = text
    // `response_tamper` forges one part of the signature (a test switch, not QI behaviour).
    const tamper = sb.settings.response_tamper
    if (apiKey)
      headers.set('API-CLIENT-KEY', tamper === 'api_key_header' ? '00000000-0000-4000-8000-000000000000' : apiKey)
    const privateKeyPem =
      tamper === 'signature' ? (strangerKey ??= generateP521KeyPair()).privateKeyPem : sb.keys.privateKeyPem
    const signedMethod = tamper === 'wrong_method' ? (method === 'GET' ? 'POST' : 'GET') : method
    const signedUri = tamper === 'wrong_uri' ? `${uri}/elsewhere` : uri
    const signedAt = tamper === 'stale' ? now - sb.settings.timestamp_tolerance_ms - 60_000 : now
    if (mode === 'header') {
      const claims = {
        payload_md5: md5Hex(text),
        timestamp: isoTimestamp(signedAt),
        method: signedMethod,
        uri: signedUri,
      }
      headers.set('AUTHORIZATION', await signV2(claims, privateKeyPem))
    } else {
      const payload = text ? (JSON.parse(text) as object) : {}
      const signedKey = tamper === 'api_key' ? '00000000-0000-4000-8000-000000000000' : apiKey
      const signed = await signV1({
        payload,
        method: signedMethod,
        endpoint: signedUri,
        apiKey: signedKey,
        privateKeyPem,
        now: signedAt,
        contentType: sb.settings.v1_answer_content_type,
      })
      body = signed.body!
      headers.set('AUTHORIZATION', signed.authorization)
      headers.set('content-type', 'application/json')
    }
    // Reset first: Hono's res setter merges the previous response's headers into the new one.
    c.res = undefined
    c.res = new Response(body, { status: res.status, headers })
  }
