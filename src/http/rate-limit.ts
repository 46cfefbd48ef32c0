import { createMiddleware } from 'hono/factory'
import type { PartnerRateLimiter } from '../ratelimit/limiter'
import { Problem } from './problem'
import type { AppEnv } from './types'
import { describeError } from '../lib/errors'

/**
 * Per-partner rate limit (after partnerAuth): `RATE_LIMIT` requests per `RATE_LIMIT_WINDOW_SECONDS`,
 * or the partner's own limit. Every answer carries RateLimit-* headers; over it, 429 with
 * Retry-After. If the counter cannot be reached the request goes through: an outage of the limiter
 * must not become an outage of the API.
 */
export const rateLimit = createMiddleware<AppEnv>(async (c, next) => {
  const namespace = c.env.RATE_LIMITER as DurableObjectNamespace<PartnerRateLimiter> | undefined
  if (!namespace) return next()
  const { settings } = c.var.deps
  const partner = c.var.partner
  const limit = partner.limits.rateLimit
  const windowMs = settings.RATE_LIMIT_WINDOW_SECONDS * 1000
  const taking = namespace
    .get(namespace.idFromName(partner.id))
    .take(limit, windowMs)
    .catch((error: unknown) => {
      console.error(JSON.stringify({ level: 'error', msg: 'rate limiter unreachable', error: describeError(error) }))
      return null
    })
  // A read changes nothing, so it runs beside the count instead of after it; over the limit its
  // answer is thrown away. Writes wait for the count: a refused request must not reach a provider.
  const safe = c.req.method === 'GET' || c.req.method === 'HEAD'
  const reading = safe ? next() : undefined
  reading?.catch(() => {}) // awaited below; this only keeps an early failure from counting as unhandled
  const quota = await taking
  if (!quota) return reading ?? next()
  const resetSeconds = Math.max(1, Math.ceil(quota.resetMs / 1000))
  const headers = {
    'ratelimit-limit': String(quota.limit),
    'ratelimit-remaining': String(quota.remaining),
    'ratelimit-reset': String(resetSeconds),
    'ratelimit-policy': `${quota.limit};w=${settings.RATE_LIMIT_WINDOW_SECONDS}`,
  }
  if (!quota.allowed) {
    await reading?.catch(() => {}) // let the discarded read finish before the 429 replaces its answer
    throw new Problem('rate_limited', {
      detail: `At most ${quota.limit} requests per ${settings.RATE_LIMIT_WINDOW_SECONDS} s; retry in ${resetSeconds} s.`,
      headers: { ...headers, 'retry-after': String(resetSeconds) },
    })
  }
  await (reading ?? next())
  for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value)
})
