import { importPKCS8, importSPKI } from 'jose'
import { fromBase64, fromUtf8, toBase64Url, toHex, utf8 } from '../../lib/encoding'

/**
 * QI's request signing, "v2" (reference §2.2): every call carries `API-CLIENT-KEY` and an
 * `AUTHORIZATION` ES512 JWT over {payload_md5, timestamp, method, uri}; the MD5 is of the exact body
 * bytes sent. QI signs its webhooks (and, in some setups, its answers) the same way with its own key.
 */

export const md5Hex = async (text: string): Promise<string> => toHex(await crypto.subtle.digest('MD5', utf8(text)))

// Importing a P-521 key costs more than signing with it: keep them per isolate, bounded like the
// other per-isolate caches (a key per partner connection, so a busy isolate never holds them all).
const privateKeys = new Map<string, Promise<CryptoKey>>()
const publicKeys = new Map<string, Promise<CryptoKey>>()
const MAX_KEYS = 1000
const cached = (cache: Map<string, Promise<CryptoKey>>, pem: string, load: () => Promise<CryptoKey>) => {
  let key = cache.get(pem)
  if (!key) {
    key = load()
    key.catch(() => cache.delete(pem))
    if (cache.size >= MAX_KEYS) cache.clear()
    cache.set(pem, key)
  }
  return key
}
export const privateKeyOf = (pkcs8Pem: string) => cached(privateKeys, pkcs8Pem, () => importPKCS8(pkcs8Pem, 'ES512'))
export const publicKeyOf = (spkiPem: string) => cached(publicKeys, spkiPem, () => importSPKI(spkiPem, 'ES512'))

export type SignedClaims = { payload_md5: string; timestamp: string; method: string; uri: string }

// The compact JWS jose's SignJWT writes for {alg: ES512, typ: JWT}, byte for byte, without its per-call
// claim cloning, header serialising and key checks: the header is encoded once, the key is a cached P-521 one.
const ES512_HEADER = toBase64Url(utf8(JSON.stringify({ alg: 'ES512', typ: 'JWT' })))
const ES512 = { name: 'ECDSA', hash: 'SHA-512' }

/** An ES512 JWT over `claims`, signed with the (cached) key of `pkcs8Pem`. */
export const signEs512 = async (claims: SignedClaims, pkcs8Pem: string): Promise<string> => {
  const input = `${ES512_HEADER}.${toBase64Url(utf8(JSON.stringify(claims)))}`
  const signature = await crypto.subtle.sign(ES512, await privateKeyOf(pkcs8Pem), utf8(input))
  return `${input}.${toBase64Url(signature)}`
}

/** For bodiless calls QI's samples hash the empty JSON object, not the empty string. */
export const EMPTY_PAYLOAD = '{}'

export const signRequest = async (input: {
  method: string
  uri: string
  body: string | undefined
  privateKeyPem: string
  apiClientKey: string
  now: number
}): Promise<Record<string, string>> => {
  const claims: SignedClaims = {
    payload_md5: await md5Hex(input.body ?? EMPTY_PAYLOAD),
    timestamp: new Date(input.now).toISOString(),
    method: input.method,
    uri: input.uri,
  }
  return { AUTHORIZATION: await signEs512(claims, input.privateKeyPem), 'API-CLIENT-KEY': input.apiClientKey }
}

export type Verification = { ok: true } | { ok: false; reason: string }

// Date and time; milliseconds, with any further digits dropped; the zone, if any.
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:(\.\d{1,3})\d*)?(Z|[+-]\d{2}:\d{2})?$/
/** QI's Python samples send UTC times without a zone; read those as UTC. */
const parseTimestamp = (value: unknown): number => {
  const parts = typeof value === 'string' ? TIMESTAMP.exec(value) : null
  if (!parts) return NaN
  // Date.parse takes at most milliseconds; QI writes microseconds.
  return Date.parse(`${parts[1]}${parts[2] ?? ''}${parts[3] ?? 'Z'}`)
}

/** What every check of a QI-signed message is held to: the request it answers, QI's key, freshness. */
type SignedBy = { method: string; uri: string; qiPublicKeyPem: string; now: number; toleranceMs: number }

/**
 * A message may be signed over any of several forms QI's documentation leaves open: `uris` the
 * signed uri may name (a path, the full URL) and `bodyDigests` the MD5s its body may have been hashed
 * as (the raw bytes, or Python's json.dumps of them). One of each must match.
 */
type SignedForms = { uris?: readonly string[]; bodyDigests?: readonly string[] }

/**
 * Checks a QI-signed message (a webhook, or an answer signed in the header): the ES512 signature with
 * QI's public key, then method, uri, the body's MD5 and the timestamp's freshness. The reason names
 * the failed step and never echoes the token.
 */
export const verifySigned = async (
  input: SignedBy & SignedForms & { authorization: string | undefined; body: string },
): Promise<Verification> => {
  const token = input.authorization?.trim()
  if (!token) return { ok: false, reason: 'no AUTHORIZATION header' }
  const verified = await qiClaims(token, input.qiPublicKeyPem)
  if (!('claims' in verified)) return { ok: false, reason: verified.reason }
  const { claims } = verified
  if (claims.method !== input.method) return { ok: false, reason: 'signed method does not match' }
  if (!(input.uris ?? [input.uri]).includes(String(claims.uri)))
    return { ok: false, reason: 'signed uri does not match' }
  const digests = input.bodyDigests ?? [await md5Hex(input.body)]
  if (!digests.includes(String(claims.payload_md5))) return { ok: false, reason: 'payload_md5 does not match the body' }
  if (!fresh(parseTimestamp(claims.timestamp), input))
    return { ok: false, reason: 'timestamp missing or outside the tolerance' }
  return { ok: true }
}

/**
 * The header of a v1 answer (reference §2.3): `QIT <api_key>:<JWT {sub, signature}>` signed by QI,
 * where `signature` is "method\nmd5(encoded_body)\ncontent type\nRFC 1123 date\nendpoint". As in
 * QI's Node sample: the `api-client-key` answer header, key and sub must be the partner's own, method
 * and endpoint the request's, the MD5 the encoded body's. The content type is not judged (the
 * sample does not); the date only against the generous QI_SIGNATURE_TOLERANCE_SECONDS.
 */
export const verifyV1Answer = async (
  input: SignedBy &
    Pick<SignedForms, 'uris'> & {
      authorization: string
      apiClientKey: string
      /** The `api-client-key` header QI answered with. */
      answerApiClientKey: string | null
      encodedBody: string | undefined
    },
): Promise<Verification> => {
  if (input.answerApiClientKey !== input.apiClientKey)
    return { ok: false, reason: "v1 answer's api-client-key header is not the partner's key" }
  const match = /^QIT ([^:\s]+):(\S+)$/.exec(input.authorization.trim())
  if (!match) return { ok: false, reason: 'v1 AUTHORIZATION is not "QIT <api_key>:<jwt>"' }
  const [, apiKey, token] = match as unknown as [string, string, string]
  if (apiKey !== input.apiClientKey) return { ok: false, reason: "v1 AUTHORIZATION names another partner's key" }
  const verified = await qiClaims(token, input.qiPublicKeyPem)
  if (!('claims' in verified)) return { ok: false, reason: "v1 signature does not verify with QI's public key" }
  const { claims } = verified
  if (claims.sub !== apiKey) return { ok: false, reason: 'v1 sub is not the api key' }
  // As QI's Node sample reads it: split on "\n", take lines 0, 1, 3 and 4; anything after the fifth is
  // ignored. Fewer than five leave no endpoint, which the sample refuses as a mismatch too.
  const lines = typeof claims.signature === 'string' ? claims.signature.split('\n') : []
  if (lines.length < 5) return { ok: false, reason: 'v1 signature claim has fewer than 5 lines' }
  const [method, md5, , date, endpoint] = lines as [string, string, string, string, string]
  if (method !== input.method) return { ok: false, reason: 'signed method does not match' }
  if (!(input.uris ?? [input.uri]).includes(endpoint)) return { ok: false, reason: 'signed endpoint does not match' }
  const encoded = input.encodedBody
  if (md5 !== (encoded === undefined ? '' : await md5Hex(encoded)))
    return { ok: false, reason: 'signed md5 does not match encoded_body' }
  if (!fresh(Date.parse(date), input)) return { ok: false, reason: 'signed date missing or outside the tolerance' }
  return { ok: true }
}

type Claims = Record<string, unknown>

/**
 * The claims of a compact ES512 JWT QI signed, checked as jose's jwtVerify with `algorithms: ['ES512']`
 * checks them (header alg, no critical extension, signature, exp/nbf/iat when present), without its
 * general machinery: the verify sits on every QI answer, and the replay in bench/io-probe.ts does no more.
 */
const qiClaims = async (token: string, qiPublicKeyPem: string): Promise<{ claims: Claims } | { reason: string }> => {
  const notJwt = { reason: 'AUTHORIZATION is not a JWT' }
  const parts = token.split('.')
  if (parts.length !== 3) return notJwt
  const [header, payload, signature] = parts as [string, string, string]
  const protectedHeader = jsonObjectOf(header)
  if (!protectedHeader) return notJwt
  if (protectedHeader.alg !== 'ES512') return { reason: 'JWT alg is not ES512' }
  const unverified = { reason: "signature does not verify with QI's public key" }
  if ('crit' in protectedHeader) return unverified
  if (!(await verifiesWith(qiPublicKeyPem, `${header}.${payload}`, signature))) return unverified
  const claims = jsonObjectOf(payload)
  if (!claims || !withinValidity(claims, Math.floor(Date.now() / 1000))) return unverified
  return { claims }
}

const verifiesWith = async (spkiPem: string, input: string, signature: string) => {
  try {
    return await crypto.subtle.verify(ES512, await publicKeyOf(spkiPem), fromBase64(signature), utf8(input))
  } catch {
    return false
  }
}

/** A base64url segment holding a JSON object; null when it is anything else. */
const jsonObjectOf = (segment: string): Claims | null => {
  try {
    const value: unknown = JSON.parse(fromUtf8(fromBase64(segment)))
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Claims) : null
  } catch {
    return null
  }
}

/** exp, nbf and iat, when a token carries them, as jose holds them (QI's own tokens carry a timestamp instead). */
const withinValidity = ({ exp, nbf, iat }: Claims, nowSeconds: number) =>
  (exp === undefined || (typeof exp === 'number' && nowSeconds < exp)) &&
  (nbf === undefined || (typeof nbf === 'number' && nbf <= nowSeconds)) &&
  (iat === undefined || typeof iat === 'number')

const fresh = (at: number, window: { now: number; toleranceMs: number }) =>
  Number.isFinite(at) && Math.abs(window.now - at) <= window.toleranceMs

/** The legacy form of an answer, `{"encoded_body": <JWT signed by QI>}`: its verified claims are the body. */
export const decodeEncodedBody = async (encoded: string, qiPublicKeyPem: string): Promise<Claims | null> => {
  const verified = await qiClaims(encoded, qiPublicKeyPem)
  return 'claims' in verified ? verified.claims : null
}
