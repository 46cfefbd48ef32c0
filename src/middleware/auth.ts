import { createMiddleware } from 'hono/factory'
import { hmacSha256Hex, secretsEqual } from '../lib/crypto'
import { Problem } from '../lib/problem'
import { KEY_USE_INTERVAL_MS, recordKeyUse } from '../partners/api-keys'
import { API_KEY_PATTERN, hashApiKey, type KeyAccess } from '../partners/key-format'
import { loadPartnerByKeyHash } from '../partners/lookup'
import type { PartnerContext, Services } from '../services'
import { type AddressCheck, addressCheckOf, requireAllowedAddress, requireKeyPermits } from './access'
import type { AppEnv } from './app-env'

const bearer = (header: string | undefined): string | null => /^Bearer +(\S+)$/i.exec(header ?? '')?.[1] ?? null

const unauthorized = (detail: string) =>
  new Problem('unauthorized', { detail, headers: { 'www-authenticate': 'Bearer realm="transfer-gateway"' } })

// Key hash → partner (with the key's access and the partner's allowlist, parsed), per isolate, for
// API_KEY_CACHE_SECONDS: a warm request costs no DB round trip. A revoked key, a changed connection or
// a changed allowlist is therefore seen within that many seconds.
type CachedCaller = { partner: PartnerContext; access: KeyAccess; allows: AddressCheck }
const partnerCache = new Map<string, { loadedAt: number; caller: CachedCaller | null }>()
const MAX_CACHED_KEYS = 10_000

// Key id → when this isolate last recorded its use: `last_used_at` is written at most once a minute
// per key, after the answer, so nearly every request writes nothing.
const useRecorded = new Map<string, number>()

/** Records the key's use (deferred, never awaited by the request) unless it was recorded within a minute. */
const noteKeyUse = (services: Services, keyId: string, at: number) => {
  const recorded = useRecorded.get(keyId)
  if (recorded !== undefined && at - recorded < KEY_USE_INTERVAL_MS) return
  if (useRecorded.size >= MAX_CACHED_KEYS) useRecorded.clear()
  useRecorded.set(keyId, at)
  services.defer(recordKeyUse(services.db, keyId, at))
}

/**
 * Partner API: `Authorization: Bearer tgw_test_…` → `c.get('partner')`; then the partner's IP allowlist
 * (403 ip_not_allowed) and the key's access (403 key_not_permitted), before any route reads the body.
 */
export const partnerAuth = createMiddleware<AppEnv>(async (c, next) => {
  const key = bearer(c.req.header('authorization'))
  if (!key || !API_KEY_PATTERN.test(key)) throw unauthorized('Send your API key as `Authorization: Bearer tgw_…`.')
  const { db, settings, now } = c.get('services')
  const hash = await hashApiKey(settings.API_KEY_SECRET, key)
  const at = now()
  let entry = partnerCache.get(hash)
  if (!entry || at - entry.loadedAt >= settings.API_KEY_CACHE_SECONDS * 1000) {
    const found = await loadPartnerByKeyHash(db, hash, at, settings)
    entry = {
      loadedAt: at,
      caller: found && { partner: found.partner, access: found.access, allows: addressCheckOf(found.ipAllowlist) },
    }
    if (settings.API_KEY_CACHE_SECONDS > 0) {
      if (partnerCache.size >= MAX_CACHED_KEYS) partnerCache.clear()
      partnerCache.set(hash, entry)
    }
  }
  const caller = entry.caller
  const expiresAt = caller?.partner.key?.expiresAt ?? null
  if (!caller || (expiresAt !== null && expiresAt <= at)) {
    throw unauthorized('The API key is unknown, revoked or expired.')
  }
  const { partner } = caller
  c.get('log').partnerId = partner.id
  // Known before the checks, so the audit log can say whose write was refused.
  c.set('partner', partner)
  requireAllowedAddress(c, caller.allows)
  requireKeyPermits(c, caller.access)
  if (partner.key) noteKeyUse(c.get('services'), partner.key.id, at)
  await next()
})

/**
 * Which admin token a call used, for the log: the first 8 hex characters of its HMAC under
 * API_KEY_SECRET. It tells the two tokens apart (and a rotated one from its successor) and, keyed,
 * says nothing about the token to whoever reads the logs.
 */
export const adminTokenFingerprint = async (secret: string, token: string) =>
  (await hmacSha256Hex(secret, `admin-token:${token}`)).slice(0, 8)

/**
 * Admin API: `Authorization: Bearer <token>`, where the token is ADMIN_TOKEN or, during a rotation,
 * ADMIN_TOKEN_NEXT. Both comparisons always run, in constant time, so timing tells neither whether
 * a token matched nor which; the request's log line records which one by its fingerprint.
 */
export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header('authorization')) ?? ''
  const { ADMIN_TOKEN, ADMIN_TOKEN_NEXT, API_KEY_SECRET } = c.get('services').settings
  // Without a next token the current one is compared twice: the same work either way.
  const [current, next_] = await Promise.all([
    secretsEqual(token, ADMIN_TOKEN),
    secretsEqual(token, ADMIN_TOKEN_NEXT ?? ADMIN_TOKEN),
  ])
  const slot = current ? 'current' : next_ && ADMIN_TOKEN_NEXT !== undefined ? 'next' : null
  if (!token || !slot) throw unauthorized('Send the admin token as `Authorization: Bearer <ADMIN_TOKEN>`.')
  c.get('log').adminToken = { slot, fingerprint: await adminTokenFingerprint(API_KEY_SECRET, token) }
  await next()
})
