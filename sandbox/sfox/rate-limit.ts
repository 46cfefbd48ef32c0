import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, MiddlewareHandler } from 'hono'
import type { Clock } from '../shared/clock'
import { sfoxErrors } from './errors'
import { fail } from './http'
import type { SfoxSettings } from './settings'

/**
 * §3: 250 requests per 10 s per IP, then 429 and a 60 s lock-out (numbers are settings), counted over every
 * non-control route. [INFERRED] no route-specific limit applies to the Connect routes, and no
 * Retry-After / X-RateLimit-* headers are sent (none are documented).
 * The IP is the socket's peer address: X-Forwarded-For is client-controlled and never trusted.
 */
const clientIp = (c: Context): string => {
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    // app.request() in-process has no socket
    return 'in-process'
  }
}

type Bucket = { hits: number[]; lockedUntil: number }

export const createRateLimiter = (settings: SfoxSettings, clock: Clock) => {
  let buckets = new Map<string, Bucket>()

  const middleware: MiddlewareHandler = async (c, next) => {
    const limit = settings.rate_limit
    if (!limit.enabled || c.req.path.startsWith('/_sandbox/')) return next()
    const now = clock.now()
    const ip = clientIp(c)
    const bucket = buckets.get(ip) ?? { hits: [], lockedUntil: 0 }
    buckets.set(ip, bucket)
    if (now < bucket.lockedUntil) return fail(c, 429, sfoxErrors.rateLimited)
    bucket.hits = bucket.hits.filter((at) => at > now - limit.window_ms)
    if (bucket.hits.length >= limit.max_requests) {
      bucket.lockedUntil = now + limit.lockout_ms
      bucket.hits = []
      return fail(c, 429, sfoxErrors.rateLimited)
    }
    bucket.hits.push(now)
    return next()
  }

  return {
    middleware,
    reset: () => {
      buckets = new Map()
    },
  }
}
