import { createHash } from 'node:crypto'
import { decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from 'jose'
import { signingKey, verifyingKey } from './keys'

/**
 * QI's two signing schemes (reference §2), used by the sandbox in both directions and exported as
 * client helpers (`signRequest`, `signRequestV1`, `verifyResponse`, `verifyWebhook`) for tests.
 *
 * v2: AUTHORIZATION = ES512 JWT {payload_md5, timestamp, method, uri}, body sent as plain JSON.
 * v1: AUTHORIZATION = "QIT <api_key>:" + ES512 JWT {sub: api_key, signature: string_to_sign} and the
 *     body wrapped as {"encoded_body": <ES512 JWT whose claims are the payload>}.
 */

export type Verified<T> = { ok: true; value: T } | { ok: false; reason: string }
const ok = <T>(value: T): Verified<T> => ({ ok: true, value })
const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason })

export const md5Hex = (data: string | Uint8Array): string => createHash('md5').update(data).digest('hex')

/** Python's repr() of a float (what json.dumps writes): shortest round-trip digits, exponent form outside [1e-4, 1e16). */
const pythonFloat = (n: number): string => {
  if (Number.isNaN(n)) return 'NaN'
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity'
  // A JSON integer below 1e21 is parsed by Python as an int and written back as its digits.
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n)
  const [mantissa, exp] = n.toExponential().split('e') as [string, string]
  const e = Number(exp)
  // Non-integers here are below 2^53, so e < 16; JS writes them positionally from 1e-7 up, with the same digits.
  if (e >= -4) return String(n)
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
}

/** Python json.dumps's string form with ensure_ascii=True: only printable ASCII (space to ~) passes unescaped. */
const pythonString = (str: string): string => {
  let out = '"'
  for (let i = 0; i < str.length; i++) {
    const ch = str[i]!
    const code = str.charCodeAt(i)
    if (ch === '"') out += '\\"'
    else if (ch === '\\') out += '\\\\'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (ch === '\t') out += '\\t'
    else if (ch === '\b') out += '\\b'
    else if (ch === '\f') out += '\\f'
    else if (code >= 0x20 && code <= 0x7e) out += ch
    // UTF-16 code units, so characters beyond the BMP come out as surrogate pairs, as in Python.
    else out += `\\u${code.toString(16).padStart(4, '0')}`
  }
  return `${out}"`
}

/**
 * Python's `json.dumps(value)` with its defaults (ensure_ascii=True, separators ", " and ": ", keys in the
 * parsed order) for a value from JSON.parse. QI's webhook verification sample hashes this form of the parsed
 * body. Limits: JS puts integer-like object keys first, and cannot tell 10.0 from 10 (Python writes "10.0").
 */
export const pythonJsonDumps = (value: unknown): string => {
  if (value === null || value === undefined) return 'null'
  if (value === true) return 'true'
  if (value === false) return 'false'
  if (typeof value === 'number') return pythonFloat(value)
  if (typeof value === 'string') return pythonString(value)
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`
  if (typeof value === 'object')
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pythonString(k)}: ${pythonJsonDumps(v)}`)
      .join(', ')}}`
  throw new TypeError(`Object of type ${typeof value} is not JSON serializable`)
}

/** Python-style UTC ISO-8601 with microseconds, as in QI's samples: 2023-06-26T19:48:32.759000Z. */
export const isoTimestamp = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z')

/** RFC 1123 date in GMT (`%a, %d %b %Y %H:%M:%S GMT`), used by v1's string_to_sign. */
export const rfc1123 = (ms: number): string => new Date(ms).toUTCString()

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})?$/

/** Milliseconds of an ISO-8601 timestamp, NaN if malformed; a zone-less value is UTC (Python's utcnow()). */
export const parseIsoTimestamp = (value: string): number => {
  if (!ISO_TIMESTAMP.test(value)) return Number.NaN
  return Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`)
}

export const signJwt = async (claims: JWTPayload, privateKeyPem: string): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES512', typ: 'JWT' }).sign(await signingKey(privateKeyPem))

/** Verifies an ES512 compact JWS; the reason says which step failed (never echoing keys or tokens). */
export const verifyJwt = async (token: string, publicKeyPem: string): Promise<Verified<JWTPayload>> => {
  let alg: unknown
  try {
    alg = decodeProtectedHeader(token).alg
  } catch {
    return fail('not a decodable compact JWT')
  }
  if (alg !== 'ES512') return fail(`JWT alg must be ES512, got ${JSON.stringify(alg ?? null)}`)
  try {
    const { payload } = await jwtVerify(token, await verifyingKey(publicKeyPem), { algorithms: ['ES512'] })
    return ok(payload)
  } catch {
    return fail('JWT signature does not verify with the expected public key')
  }
}

// ---- v2 ---------------------------------------------------------------------------------------

export type V2Claims = { payload_md5: string; timestamp: string; method: string; uri: string }

export type Expectation = {
  method: string
  /** Accepted values of the signed uri/endpoint (e.g. the path, or path and path+query). */
  uris: string[]
  now: number
  toleranceMs: number
}

const withinTolerance = (ms: number, e: Expectation) => Number.isFinite(ms) && Math.abs(e.now - ms) <= e.toleranceMs

export const signV2 = (claims: V2Claims, privateKeyPem: string): Promise<string> =>
  signJwt(claims as unknown as JWTPayload, privateKeyPem)

/** Checks a v2 JWT: signature, method, uri, payload_md5 (one of `md5s`) and timestamp freshness. */
export const verifyV2 = async (
  token: string,
  publicKeyPem: string,
  expect: Expectation & { md5s: string[] },
): Promise<Verified<V2Claims>> => {
  const jwt = await verifyJwt(token, publicKeyPem)
  if (!jwt.ok) return jwt
  const claims = jwt.value
  const names = ['payload_md5', 'timestamp', 'method', 'uri'] as const
  const missing = names.filter((n) => typeof claims[n] !== 'string')
  if (missing.length) return fail(`JWT claims must include string ${missing.join(', ')}`)
  const c = claims as unknown as V2Claims
  if (c.method !== expect.method) return fail(`signed method ${c.method} does not match ${expect.method}`)
  if (!expect.uris.includes(c.uri)) return fail(`signed uri ${c.uri} does not match ${expect.uris.join(' or ')}`)
  if (!expect.md5s.includes(c.payload_md5)) return fail('payload_md5 does not match the MD5 of the body')
  const at = parseIsoTimestamp(c.timestamp)
  if (Number.isNaN(at)) return fail('timestamp is not an ISO-8601 UTC timestamp')
  if (!withinTolerance(at, expect)) return fail('timestamp is outside the accepted window')
  return ok(c)
}

// ---- v1 (legacy) ------------------------------------------------------------------------------

/** string_to_sign = METHOD \n md5 \n content_type \n RFC1123 date \n endpoint */
const stringToSign = (method: string, md5: string, contentType: string, date: string, endpoint: string) =>
  [method, md5, contentType, date, endpoint].join('\n')

export type V1Signed = { body: string | undefined; authorization: string }

/** Signs a v1 message: with a payload the body becomes {"encoded_body": jwt}; without one md5 and content type are "". */
export const signV1 = async (input: {
  payload?: object
  method: string
  endpoint: string
  apiKey: string
  privateKeyPem: string
  now: number
  /** The signed content type line; QI's pages show application/json for a message with a body. */
  contentType?: string
}): Promise<V1Signed> => {
  const encoded =
    input.payload === undefined ? undefined : await signJwt(input.payload as JWTPayload, input.privateKeyPem)
  const signature = stringToSign(
    input.method,
    encoded === undefined ? '' : md5Hex(encoded),
    encoded === undefined ? '' : (input.contentType ?? 'application/json'),
    rfc1123(input.now),
    input.endpoint,
  )
  const header = await signJwt({ sub: input.apiKey, signature }, input.privateKeyPem)
  return {
    body: encoded === undefined ? undefined : JSON.stringify({ encoded_body: encoded }),
    authorization: `QIT ${input.apiKey}:${header}`,
  }
}

/** Verifies a v1 message (request or response) and returns its decoded payload (undefined when bodiless). */
export const verifyV1 = async (
  authorization: string,
  body: string,
  publicKeyPem: string,
  expect: Expectation & { apiKey: string },
): Promise<Verified<unknown>> => {
  const match = /^QIT ([^:\s]+):(\S+)$/.exec(authorization)
  if (!match) return fail('AUTHORIZATION must be "QIT <api_key>:<jwt>"')
  const [, apiKey, headerJwt] = match as unknown as [string, string, string]
  if (apiKey !== expect.apiKey) return fail('api key in AUTHORIZATION does not match API-CLIENT-KEY')
  const jwt = await verifyJwt(headerJwt, publicKeyPem)
  if (!jwt.ok) return jwt
  const { sub, signature } = jwt.value as { sub?: unknown; signature?: unknown }
  if (sub !== apiKey) return fail('sub claim does not match the api key')
  if (typeof signature !== 'string') return fail('signature claim must be a string')
  const parts = signature.split('\n')
  if (parts.length !== 5) return fail('signature claim must have 5 lines: method, md5, content type, date, endpoint')
  const [method, md5, contentType, date, endpoint] = parts as [string, string, string, string, string]
  if (method !== expect.method) return fail(`signed method ${method} does not match ${expect.method}`)
  if (!expect.uris.includes(endpoint))
    return fail(`signed endpoint ${endpoint} does not match ${expect.uris.join(' or ')}`)
  if (!withinTolerance(Date.parse(date), expect)) return fail('signed date is malformed or outside the accepted window')

  let encoded: string | undefined
  if (body !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      return fail('v1 body must be JSON {"encoded_body": "<jwt>"}')
    }
    encoded = (parsed as { encoded_body?: unknown } | null)?.encoded_body as string | undefined
    if (typeof encoded !== 'string') return fail('v1 body must be JSON {"encoded_body": "<jwt>"}')
  }
  if (md5 !== (encoded === undefined ? '' : md5Hex(encoded))) return fail('signed md5 does not match md5(encoded_body)')
  // [QI-REPO] The doc sample signs "application/json" with a body and "" without, but QI's Node sample signs ""
  // even with a body and the Java one "application/json" without: either is accepted, nothing else.
  if (contentType !== '' && contentType !== 'application/json')
    return fail('signed content type must be application/json or empty')
  if (encoded === undefined) return ok(undefined)
  const inner = await verifyJwt(encoded, publicKeyPem)
  return inner.ok ? ok(inner.value) : fail(`encoded_body: ${inner.reason}`)
}

// ---- client helpers (tests, seeding, the gateway's own tests) ----------------------------------

type HeaderSource = Headers | Record<string, string | undefined>

const headerOf = (headers: HeaderSource, name: string): string | undefined => {
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  return Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1]
}

const text = (body: string | Uint8Array) => (typeof body === 'string' ? body : new TextDecoder().decode(body))

/**
 * The headers a v2 client sends. `body` must be the exact string that will be sent; without one the
 * MD5 is of "{}" for GET/DELETE (as QI's sample) and of "" otherwise. `claims` overrides computed
 * claims, to forge bad requests. `uri` is the path (without the query string, by default).
 */
export const signRequest = async (input: {
  method: string
  uri: string
  body?: string
  privateKeyPem: string
  apiClientKey: string
  now?: number
  claims?: Partial<V2Claims>
}): Promise<Record<string, string>> => {
  const method = input.method.toUpperCase()
  const hashed = input.body ?? (method === 'GET' || method === 'DELETE' ? '{}' : '')
  const claims: V2Claims = {
    payload_md5: md5Hex(hashed),
    timestamp: isoTimestamp(input.now ?? Date.now()),
    method,
    uri: input.uri,
    ...input.claims,
  }
  const headers: Record<string, string> = {
    'API-CLIENT-KEY': input.apiClientKey,
    AUTHORIZATION: await signV2(claims, input.privateKeyPem),
  }
  if (input.body !== undefined) headers['Content-Type'] = 'application/json'
  return headers
}

/** A v1 (legacy) request: headers plus the {"encoded_body"} body to send (undefined when no payload). */
export const signRequestV1 = async (input: {
  method: string
  uri: string
  payload?: object
  privateKeyPem: string
  apiClientKey: string
  now?: number
}): Promise<{ headers: Record<string, string>; body: string | undefined }> => {
  const signed = await signV1({
    payload: input.payload,
    method: input.method.toUpperCase(),
    endpoint: input.uri,
    apiKey: input.apiClientKey,
    privateKeyPem: input.privateKeyPem,
    now: input.now ?? Date.now(),
  })
  const headers: Record<string, string> = { 'API-CLIENT-KEY': input.apiClientKey, AUTHORIZATION: signed.authorization }
  if (signed.body !== undefined) headers['Content-Type'] = 'application/json'
  return { headers, body: signed.body }
}

export type VerifiedResponse =
  | { ok: true; mode: 'header' | 'encoded_body'; payload: unknown }
  | { ok: false; reason: string }

/**
 * Verifies a signed QI response with QI's public key, in either form: "header" (v2-style JWT in
 * AUTHORIZATION over the exact body) or "encoded_body" (v1). Returns the payload (the JSON body, or
 * the claims of encoded_body). `method`/`uri` are the request's.
 */
export const verifyResponse = async (input: {
  method: string
  uri: string
  headers: HeaderSource
  body: string | Uint8Array
  qiPublicKeyPem: string
  apiClientKey: string
  now?: number
  toleranceMs?: number
}): Promise<VerifiedResponse> => {
  const authorization = headerOf(input.headers, 'authorization')
  if (!authorization) return fail('response has no AUTHORIZATION header')
  if (headerOf(input.headers, 'api-client-key') !== input.apiClientKey)
    return fail('response API-CLIENT-KEY does not echo the api key')
  const expect = {
    method: input.method.toUpperCase(),
    uris: [input.uri],
    now: input.now ?? Date.now(),
    toleranceMs: input.toleranceMs ?? 5 * 60_000,
  }
  if (authorization.startsWith('QIT ')) {
    const v1 = await verifyV1(authorization, text(input.body), input.qiPublicKeyPem, {
      ...expect,
      apiKey: input.apiClientKey,
    })
    if (!v1.ok) return v1
    return v1.value === undefined ? fail('encoded_body missing') : { ok: true, mode: 'encoded_body', payload: v1.value }
  }
  const v2 = await verifyV2(authorization, input.qiPublicKeyPem, { ...expect, md5s: [md5Hex(input.body)] })
  if (!v2.ok) return v2
  try {
    return { ok: true, mode: 'header', payload: JSON.parse(text(input.body)) }
  } catch {
    return fail('response body is not JSON')
  }
}

/**
 * Verifies a QI webhook as a receiver must (reference §7.2); `uri` is the path the webhook was posted to (or
 * the accepted values). `md5Forms` (default ["raw"]) says which MD5s of the body are accepted: of the raw bytes,
 * and/or of Python's json.dumps of the parsed body (sandbox setting `webhook_md5_form`).
 */
export const verifyWebhook = async (input: {
  headers: HeaderSource
  body: string | Uint8Array
  uri: string | string[]
  qiPublicKeyPem: string
  apiClientKey?: string
  method?: string
  now?: number
  toleranceMs?: number
  md5Forms?: ('raw' | 'json_dumps')[]
}): Promise<Verified<V2Claims>> => {
  const authorization = headerOf(input.headers, 'authorization')
  if (!authorization) return fail('webhook has no AUTHORIZATION header')
  if (input.apiClientKey !== undefined && headerOf(input.headers, 'api-client-key') !== input.apiClientKey)
    return fail('webhook API-CLIENT-KEY does not match')
  const md5s: string[] = []
  for (const form of input.md5Forms ?? ['raw']) {
    if (form === 'raw') md5s.push(md5Hex(input.body))
    else
      try {
        md5s.push(md5Hex(pythonJsonDumps(JSON.parse(text(input.body)))))
      } catch {
        // not JSON: no json.dumps form
      }
  }
  return verifyV2(authorization, input.qiPublicKeyPem, {
    method: input.method ?? 'POST',
    uris: Array.isArray(input.uri) ? input.uri : [input.uri],
    md5s,
    now: input.now ?? Date.now(),
    toleranceMs: input.toleranceMs ?? 5 * 60_000,
  })
}
