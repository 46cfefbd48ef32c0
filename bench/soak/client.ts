/** A partner's careful HTTP client: retries what the API says to retry, with the same idempotency key. */

export type Answer = { status: number; body: any; headers: Headers }

/** Every request the soak made, its answer and time: the figures and some invariants read these. */
export type Sample = { op: string; status: number | 'error' | 'timeout'; code: string | null; ms: number; at: number }

export type Stats = {
  samples: Sample[]
  /** Problems that break a promise, found while the run went on (checked again at the end). */
  violations: string[]
}

export const newStats = (): Stats => ({ samples: [], violations: [] })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A 5xx the API documents as the provider's or the service's problem, safe to retry. */
export const DOCUMENTED_5XX = new Set([
  'provider_unavailable',
  'provider_timeout',
  'provider_rate_limited',
  'service_unavailable',
])

/** Answers a careful client retries with the same request: documented 5xx, in-flight, rate limits. */
const retryable = (answer: Answer) => {
  const code = answer.body?.code
  if (answer.status >= 500) return true
  if (answer.status === 409 && (code === 'transfer_in_flight' || code === 'submission_in_flight')) return true
  if (answer.status === 429 && code === 'rate_limited') return true
  return false
}

const retryAfterMs = (answer: Answer, fallback: number) => {
  const value = answer.headers.get('retry-after')
  const seconds = value === null ? Number.NaN : Number(value)
  return Number.isFinite(seconds) ? Math.min(seconds * 1000, 10_000) : fallback
}

export type ClientOptions = {
  /** The gateway's address (it stays the same across a Worker restart). */
  baseUrl: string
  key: string
  stats: Stats
  /** Beyond this a request counts as lost without an answer. */
  requestTimeoutMs: number
  /** A careful client gives up on one operation after this long (answered, never lost). */
  giveUpMs: number
  /** When set, the run is over: stop retrying. */
  stopping: () => boolean
}

/**
 * One partner's API client. `call` sends once and records the sample; `careful` retries (same
 * request, same key) on documented 5xx, 409 in-flight and 429 rate_limited, honouring Retry-After,
 * and on connection errors (the Worker restarting), until an answer that is final or `giveUpMs`.
 */
export const partnerClient = (options: ClientOptions) => {
  const { stats } = options
  const call = async (
    op: string,
    method: string,
    path: string,
    body?: unknown,
    extra: { headers?: Record<string, string>; raw?: BodyInit } = {},
  ): Promise<Answer | 'error' | 'timeout'> => {
    const headers: Record<string, string> = { authorization: `Bearer ${options.key}`, ...extra.headers }
    let payload: BodyInit | undefined = extra.raw
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(body)
    }
    const started = performance.now()
    const at = Date.now()
    try {
      const res = await fetch(`${options.baseUrl}${path}`, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(options.requestTimeoutMs),
      })
      const text = await res.text()
      let parsed: any = null
      try {
        parsed = text ? JSON.parse(text) : null
      } catch {
        parsed = text
      }
      const ms = performance.now() - started
      const code = typeof parsed?.code === 'string' ? parsed.code : null
      stats.samples.push({ op, status: res.status, code, ms, at })
      if (res.status >= 500 && !DOCUMENTED_5XX.has(code ?? ''))
        stats.violations.push(`${op} ${method} ${path}: undocumented ${res.status} ${code} ${text.slice(0, 200)}`)
      if (res.status === 409 && code === 'transfer_not_pending_verification') {
        const status = parsed?.transfer_status
        if (typeof status !== 'string' || status === 'pending_verification')
          stats.violations.push(`${op} ${path}: 409 not pending with transfer_status ${status}`)
      }
      return { status: res.status, body: parsed, headers: res.headers }
    } catch (error) {
      const ms = performance.now() - started
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
      stats.samples.push({ op, status: timedOut ? 'timeout' : 'error', code: null, ms, at })
      return timedOut ? 'timeout' : 'error'
    }
  }

  const careful = async (
    op: string,
    method: string,
    path: string,
    body?: unknown,
    extra: { headers?: Record<string, string>; raw?: () => BodyInit } = {},
  ): Promise<Answer | null> => {
    const deadline = Date.now() + options.giveUpMs
    let backoff = 200
    for (;;) {
      const answer = await call(op, method, path, body, { headers: extra.headers, raw: extra.raw?.() })
      if (answer !== 'error' && answer !== 'timeout' && !retryable(answer)) return answer
      if (Date.now() > deadline || options.stopping()) return answer === 'error' || answer === 'timeout' ? null : answer
      const wait =
        answer === 'error' || answer === 'timeout' ? backoff : retryAfterMs(answer, backoff) + Math.random() * 100
      await sleep(wait)
      backoff = Math.min(backoff * 2, 2_000)
    }
  }

  return { call, careful }
}

export type PartnerClient = ReturnType<typeof partnerClient>
