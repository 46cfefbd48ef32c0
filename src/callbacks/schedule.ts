/**
 * When to try a failed delivery again (pure). After attempt n (1-based) the n-th delay of the
 * schedule applies, ±jitter so that many failing deliveries do not retry in lockstep. A receiver's
 * Retry-After (clamped so it cannot stall us) can lengthen the delay, never shorten it. None left: give up.
 */
export type RetryPolicy = {
  /** Seconds before retry 1, 2, …: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h by default. */
  scheduleSeconds: readonly number[]
  jitter: number
  minRetryAfterSeconds: number
  maxRetryAfterSeconds: number
}

export const DEFAULT_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18000, 36000, 36000] as const

export const parseSchedule = (text: string): number[] => {
  const parts = text.split(',').map((p) => Number(p.trim()))
  if (parts.length === 0 || parts.some((n) => !Number.isFinite(n) || n < 0))
    throw new Error(`invalid retry schedule: ${text}`)
  return parts
}

/** Delay in ms before the next attempt, or null when the schedule is used up. */
export const nextRetryDelayMs = (
  policy: RetryPolicy,
  attemptsMade: number,
  retryAfterSeconds: number | null,
  random: () => number = Math.random,
): number | null => {
  const base = policy.scheduleSeconds[attemptsMade - 1]
  if (base === undefined) return null
  const factor = 1 + policy.jitter * (2 * random() - 1)
  const scheduled = Math.round(base * 1000 * factor)
  if (retryAfterSeconds !== null && Number.isFinite(retryAfterSeconds)) {
    // It may only lengthen the wait: a `Retry-After: 1` must not burn the schedule in seconds.
    const clamped = Math.min(policy.maxRetryAfterSeconds, Math.max(policy.minRetryAfterSeconds, retryAfterSeconds))
    return Math.max(scheduled, Math.round(clamped * 1000))
  }
  return scheduled
}

/** Retry-After is either delta-seconds or an HTTP date. */
export const parseRetryAfter = (value: string | null, now: number): number | null => {
  if (!value) return null
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  const at = Date.parse(value)
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : null
}

/**
 * When an endpoint's current run of failures began (pure). A run is broken by a success (the caller
 * clears `failingSince`), and also by a quiet spell longer than any retry delay, in which nothing was
 * even tried: two failures days apart are not days of failing. `lastFailureAt` is when the last
 * failure was recorded (the endpoint's `updated_at`, bumped by each).
 */
export const failingStreakStart = (
  policy: RetryPolicy,
  failingSince: number | null,
  lastFailureAt: number,
  now: number,
): number => {
  if (failingSince === null) return now
  const longestGapMs = Math.max(0, ...policy.scheduleSeconds) * 1000 * (1 + policy.jitter) + 60_000
  return now - lastFailureAt > longestGapMs ? now : failingSince
}
