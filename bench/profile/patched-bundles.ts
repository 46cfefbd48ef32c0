// The A/B run's variants (--ab): the bundle as built and copies of it with one part of the hot path
// patched out, as text, so the repo is never touched.
import { REPLAYING_FLAG } from './loop-harness'

export type Patch = { name: string; what: string; apply: (bundle: string) => string }
const replaceOnce = (bundle: string, pattern: RegExp, replacement: string, what: string) => {
  const matches = bundle.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`))
  if (matches?.length !== 1)
    throw new Error(`A/B patch "${what}": expected one match of ${pattern}, found ${matches?.length ?? 0}`)
  return bundle.replace(pattern, replacement)
}
export const PATCHES: Patch[] = [
  {
    name: 'no-request-log',
    what: 'requestLog (src/middleware/request-log.ts) builds its fields but writes no line',
    apply: (b) =>
      replaceOnce(
        b,
        /(requestLog = createMiddleware\(async \(c, next\) => \{[\s\S]*?)log\d*\.write\(/,
        '$1void (',
        'no-request-log',
      ),
  },
  {
    name: 'no-rate-limit',
    what: 'rateLimit (src/middleware/rate-limit.ts) calls next() at once: no Durable Object call, no headers',
    apply: (b) =>
      replaceOnce(b, /\brateLimit = createMiddleware\(async \(c, next\) => \{/, '$& return next();', 'no-rate-limit'),
  },
  {
    name: 'no-secure-headers',
    what: 'securityHeaders (src/middleware/security.ts) calls next() without hono/secure-headers',
    apply: (b) =>
      replaceOnce(
        b,
        /\bsecurityHeaders = createMiddleware\(\s*\(c, next\) => [^\n]*\n?\s*\);/,
        'securityHeaders = createMiddleware((c, next) => next());',
        'no-secure-headers',
      ),
  },
]
/** Not our code: what @libsql/hrana-client's per-stream `ClientError` (built on every graceful close) costs. */
export const LIBSQL_CLOSE_ERROR: Patch = {
  name: 'libsql: no close error',
  what: "@libsql/hrana-client's HTTP stream reuses one ClientError for its graceful close instead of building one (with a stack trace) per statement/batch",
  apply: (b) =>
    replaceOnce(
      b,
      /this\._setClosed\(new ClientError\("Stream was gracefully closed"\)\)/,
      'this._setClosed(globalThis.__tgwGracefulClose ??= new ClientError("Stream was gracefully closed"))',
      'libsql: no close error',
    ),
}
/**
 * `--loop`: QI's ES512 work left out while the loop harness replays canned answers (its recording pass
 * signs and verifies as built): the request's signature becomes a placeholder and QI's signed answer
 * is read without checking its signature. Everything around them (MD5s, claims, checks) stays.
 */
export const NO_QI_CRYPTO: Patch = {
  name: 'no QI crypto',
  what: 'signEs512 and the answer check skip the P-521 sign and verify while the harness replays',
  apply: (b) =>
    replaceOnce(
      replaceOnce(
        b,
        /\bsignEs512 = async \(claims, pkcs8Pem\) => \{/,
        `$& if (globalThis.${REPLAYING_FLAG}) return "replayed.without.signature";`,
        'no QI sign',
      ),
      /\bqiClaims = async \(token, qiPublicKeyPem\) => \{/,
      `$& if (globalThis.${REPLAYING_FLAG}) return { claims: JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/"))) };`,
      'no QI verify',
    ),
}
/** Bundle patches applied to a copy of the bundle. */
export type Variant = { name: string; patches: Patch[] }
export const VARIANTS: Variant[] = [
  { name: 'as built', patches: [] },
  ...PATCHES.map((p) => ({ name: p.name, patches: [p] })),
  { name: 'all three', patches: PATCHES },
  { name: LIBSQL_CLOSE_ERROR.name, patches: [LIBSQL_CLOSE_ERROR] },
]
