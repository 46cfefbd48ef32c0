import { createMiddleware } from 'hono/factory'
import type { PartnerRateLimiter } from '../durable-objects/rate-limiter'
import { describeError } from '../lib/errors'
import { log } from '../lib/log'
import { Problem } from '../lib/problem'
import type { AppEnv } from './app-env'

/**
 * Per-partner rate limit (after partnerAuth): `RATE_LIMIT` requests per `RATE_LIMIT_WINDOW_SECONDS`,
 * or the partner's own limit. Every answer carries RateLimit-* headers; over it, 429 with
 * Retry-After. If the counter cannot be reached the request goes through: an outage of the limiter
 * must not become an outage of the API.
 */
// The partner's remaining quota as this isolate last saw it: reads overlap the count only while it
// is comfortably positive, so a partner at or over its limit is refused before any work is done.
const lastRemaining = new Map<string, number>()
const MAX_REMEMBERED = 10_000
const roomyFor = (partnerId: string, limit: number) => (lastRemaining.get(partnerId) ?? 0) > Math.max(1, limit / 10)

export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const namespace = c.env.RATE_LIMITER as DurableObjectNamespace<PartnerRateLimiter> | undefined
  if (!namespace) return next()
  const { settings } = c.get('services')
  const partner = c.get('partner')
  const limit = partner.limits.rateLimit
  const windowMs = settings.RATE_LIMIT_WINDOW_SECONDS * 1000
  // Test and live traffic have budgets of their own: a load test never throttles production.
  const bucket = `${partner.id}:${partner.mode}`
  const taking = (async () => namespace.get(namespace.idFromName(bucket)).take(limit, windowMs))().catch(
    (error: unknown) => {
      log.error('rate limiter unreachable', { error: describeError(error) })
      return null
    },
  )
  // A read changes nothing, so while the partner has room it runs beside the count instead of
  // after it. Writes always wait for the count: a refused request must not reach a provider.
  const overlap = (c.req.method === 'GET' || c.req.method === 'HEAD') && roomyFor(bucket, limit)
  const reading = overlap ? next() : undefined
  reading?.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
  const quota = await taking
  if (!quota) return reading ?? next()
  if (lastRemaining.size >= MAX_REMEMBERED) lastRemaining.clear()
  lastRemaining.set(bucket, quota.remaining)
  const resetSeconds = Math.max(1, Math.ceil(quota.resetMs / 1000))
  const headers = {
    'ratelimit-limit': String(quota.limit),
    'ratelimit-remaining': String(quota.remaining),
    'ratelimit-reset': String(resetSeconds),
    'ratelimit-policy': `${quota.limit};w=${settings.RATE_LIMIT_WINDOW_SECONDS}`,
  }
  if (!quota.allowed) {
    if (reading) {
      await reading.catch(() => {})
      // Drop the discarded read's answer: Hono would copy its headers onto the 429.
      c.res = undefined
    }
    throw new Problem('rate_limited', {
      detail: `At most ${quota.limit} requests per ${settings.RATE_LIMIT_WINDOW_SECONDS} s; retry in ${resetSeconds} s.`,
      headers: { ...headers, 'retry-after': String(resetSeconds) },
    })
  }
  await (reading ?? next())
  for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value)
})
