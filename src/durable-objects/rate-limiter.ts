import { DurableObject } from 'cloudflare:workers'

export type Quota = { allowed: boolean; limit: number; remaining: number; resetMs: number }

/**
 * One partner's request counter: a Durable Object, so every isolate and location counts against
 * the same number (an in-memory map per isolate would not). Fixed windows: the count restarts at
 * each multiple of the window, which is what RateLimit-Reset reports.
 */
export class PartnerRateLimiter extends DurableObject {
  #window = -1
  #count = 0

  take(limit: number, windowMs: number, now = Date.now()): Quota {
    const window = Math.floor(now / windowMs)
    if (window !== this.#window) {
      this.#window = window
      this.#count = 0
    }
    const resetMs = (window + 1) * windowMs - now
    if (this.#count >= limit) return { allowed: false, limit, remaining: 0, resetMs }
    this.#count += 1
    return { allowed: true, limit, remaining: limit - this.#count, resetMs }
  }
}
