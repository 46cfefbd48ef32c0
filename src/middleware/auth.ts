import { createMiddleware } from 'hono/factory'
import { secretsEqual } from '../lib/crypto'
import { Problem } from '../lib/problem'
import { KEY_USE_INTERVAL_MS, recordKeyUse } from '../partners/api-keys'
import { API_KEY_PATTERN, hashApiKey } from '../partners/key-format'
import { loadPartnerByKeyHash } from '../partners/lookup'
import type { PartnerContext, Services } from '../services'
import type { AppEnv } from './app-env'

const bearer = (header: string | undefined): string | null => /^Bearer +(\S+)$/i.exec(header ?? '')?.[1] ?? null

const unauthorized = (detail: string) =>
  new Problem('unauthorized', { detail, headers: { 'www-authenticate': 'Bearer realm="transfer-gateway"' } })

// Key hash → partner, per isolate, for API_KEY_CACHE_SECONDS: a warm request costs no DB round
// trip. A revoked key or a changed connection is therefore seen within that many seconds.
const partnerCache = new Map<string, { loadedAt: number; partner: PartnerContext | null }>()
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

/** Partner API: `Authorization: Bearer tgw_test_…` → `c.var.partner`. */
export const partnerAuth = createMiddleware<AppEnv>(async (c, next) => {
  const key = bearer(c.req.header('authorization'))
  if (!key || !API_KEY_PATTERN.test(key)) throw unauthorized('Send your API key as `Authorization: Bearer tgw_…`.')
  const { db, settings, now } = c.var.services
  const hash = await hashApiKey(settings.API_KEY_SECRET, key)
  const at = now()
  let entry = partnerCache.get(hash)
  if (!entry || at - entry.loadedAt >= settings.API_KEY_CACHE_SECONDS * 1000) {
    entry = { loadedAt: at, partner: await loadPartnerByKeyHash(db, hash, at, settings) }
    if (settings.API_KEY_CACHE_SECONDS > 0) {
      if (partnerCache.size >= MAX_CACHED_KEYS) partnerCache.clear()
      partnerCache.set(hash, entry)
    }
  }
  const partner = entry.partner
  const expiresAt = partner?.key?.expiresAt ?? null
  if (!partner || (expiresAt !== null && expiresAt <= at)) {
    throw unauthorized('The API key is unknown, revoked or expired.')
  }
  c.set('partner', partner)
  c.var.log.partnerId = partner.id
  if (partner.key) noteKeyUse(c.var.services, partner.key.id, at)
  await next()
})

/** Admin API: `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export const adminAuth = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearer(c.req.header('authorization'))
  if (!token || !(await secretsEqual(token, c.var.services.settings.ADMIN_TOKEN))) {
    throw unauthorized('Send the admin token as `Authorization: Bearer <ADMIN_TOKEN>`.')
  }
  await next()
})
