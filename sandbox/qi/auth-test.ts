import type { Context, Hono } from 'hono'
import { isoTimestamp } from './signing'
import { type QiEnv, type QiSandbox, signatureNow } from './state'

/**
 * QI's authentication test endpoint, for connection checks.
 *
 * - [DOC] primeiros_passos/teste_de_autenticacao/endpoints_de_teste: `GET /test/{API_KEY}` and
 *   `POST /test/{API_KEY}` on the BaaS auth host (api-auth[.sandbox].qitech.app), with API-CLIENT-KEY and
 *   AUTHORIZATION; the v2 and older v1 test pages sign `/test` itself, so `GET|POST /test` answer too.
 * - Authentication is the same as on every other route (`authenticate`): a missing API-CLIENT-KEY is GDF000003,
 *   an unknown one GDF000018, a bad signature (wrong key, method, uri, md5, stale timestamp) GDF000014.
 * - [INFERRED] The `{api_key}` path segment is echoed, not checked against API-CLIENT-KEY (QI's PHP sample
 *   calls `/test/<another key>` with its own API-CLIENT-KEY).
 * - Answer: 200 ([DOC-other] QI DTVM's /authentication_test answers 200 `{"success": "Congrats!"}` to a GET and
 *   the request body plus `"success": "Congrats!"` to a POST; [3P] a QI client library reads its own payload back
 *   from the POST answer). [INFERRED] The sandbox adds `request` (what it received and verified) and
 *   `server_time` (its clock, ISO-8601 UTC with microseconds), overriding payload fields of the same names.
 * - Signing: like every answer (setting `response_signing`), except that a v1 request is always answered in the
 *   v1 form (`{"encoded_body": jwt}` + "QIT" AUTHORIZATION) when answers are signed at all: [QI-REPO] QI's Node
 *   and PHP samples decode the /test answer's encoded_body. The signed timestamp (v2 claim `timestamp`, v1
 *   signature date) and the `Date` header carry the sandbox's clock (shifted by `clock_offset_ms`), so a client
 *   can measure its skew.
 */

const AUTH_TEST_PATH = /^\/test(\/[^/]+)?$/

export const isAuthTestPath = (path: string): boolean => AUTH_TEST_PATH.test(path)

const receivedHeaders = (c: Context<QiEnv>): Record<string, string> => {
  const headers: Record<string, string> = {}
  c.req.raw.headers.forEach((value, name) => {
    headers[name] = value
  })
  return headers
}

export const mountAuthTest = (app: Hono<QiEnv>, sb: QiSandbox): void => {
  const answer = (c: Context<QiEnv>) => {
    const payload = c.get('body')
    const url = new URL(c.req.url)
    const echoed = payload && typeof payload === 'object' && !Array.isArray(payload) ? payload : {}
    return c.json(
      {
        ...echoed,
        success: 'Congrats!',
        request: {
          method: c.req.method,
          uri: url.pathname,
          query: url.search,
          api_key: c.req.param('api_key') ?? null,
          api_client_key: c.get('integration').api_client_key,
          scheme: c.get('scheme') ?? null,
          headers: receivedHeaders(c),
          payload: payload ?? null,
          signed_claims: c.get('signed_claims'),
        },
        server_time: isoTimestamp(signatureNow(sb)),
      },
      200,
    )
  }
  for (const path of ['/test', '/test/:api_key']) {
    app.get(path, answer)
    app.post(path, answer)
  }
}
