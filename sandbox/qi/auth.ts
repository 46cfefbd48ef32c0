import type { MiddlewareHandler } from 'hono'
import { decodeJwt } from 'jose'
import { qiFail, schemaFail, unauthenticated } from './errors'
import { md5Hex, verifyV1, verifyV2 } from './signing'
import { type QiEnv, type QiSandbox, signatureNow } from './state'

/** [INFERRED] (setting `signed_uri_query`) The `uri`/endpoint values a signature may carry for this request. */
const signedUris = (sb: QiSandbox, url: URL): string[] => {
  const withQuery = url.pathname + url.search
  switch (sb.settings.signed_uri_query) {
    case 'excluded':
      return [url.pathname]
    case 'included':
      return [withQuery]
    case 'either':
      return [url.pathname, withQuery]
  }
}

/**
 * MD5s a v2 signature may carry: of the exact raw bytes, or for a request without a body (any method: QI's
 * Python sample hashes json.dumps({}) whenever there is no body) of an "empty payload" (setting
 * `empty_payload_md5_of`, md5("{}") and md5("") by default).
 */
const acceptedMd5s = (sb: QiSandbox, raw: Uint8Array): string[] =>
  raw.length === 0 ? sb.settings.empty_payload_md5_of.map((s) => md5Hex(s)) : [md5Hex(raw)]

const parseJson = (raw: Uint8Array): unknown => {
  if (raw.length === 0) return undefined
  try {
    return JSON.parse(new TextDecoder().decode(raw))
  } catch {
    return schemaFail({ _schema: ['Invalid input type: body is not valid JSON.'] })
  }
}

/**
 * Authenticates every API request (reference §2): API-CLIENT-KEY → integration, then the v1
 * ("QIT <key>:<jwt>") or v2 (bare JWT) signature against the integration's public key. Sets
 * `integration`, `scheme` and the decoded `body` for the routes.
 */
export const authenticate =
  (sb: QiSandbox): MiddlewareHandler<QiEnv> =>
  async (c, next) => {
    if (c.req.path.startsWith('/_sandbox/')) return next()
    const apiKey = c.req.header('api-client-key')
    if (!apiKey) return qiFail('GDF000003')
    const integration = sb.store.load(apiKey)?.integration
    if (!integration) return qiFail('GDF000018', { params: { api_client_key: apiKey } })
    const authorization = c.req.header('authorization')
    if (!authorization) return unauthenticated('AUTHORIZATION header missing')

    const method = c.req.method
    const raw = new Uint8Array(await c.req.arrayBuffer())
    const expect = {
      method,
      uris: signedUris(sb, new URL(c.req.url)),
      now: signatureNow(sb),
      toleranceMs: sb.settings.timestamp_tolerance_ms,
    }
    if (authorization.startsWith('QIT ')) {
      const body = new TextDecoder().decode(raw)
      const v1 = await verifyV1(authorization, body, integration.public_key_pem, { ...expect, apiKey })
      if (!v1.ok) return unauthenticated(v1.reason)
      c.set('scheme', 'v1')
      c.set('body', v1.value)
      c.set('signed_claims', decodeJwt(authorization.slice(authorization.indexOf(':') + 1)))
    } else {
      const md5s = acceptedMd5s(sb, raw)
      const v2 = await verifyV2(authorization, integration.public_key_pem, { ...expect, md5s })
      if (!v2.ok) return unauthenticated(v2.reason)
      c.set('scheme', 'v2')
      c.set('body', parseJson(raw))
      c.set('signed_claims', { ...v2.value })
    }
    c.set('integration', integration)
    return next()
  }
