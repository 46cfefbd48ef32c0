import type { ProviderError, ProviderName } from './provider'

export type ProviderResponse = { status: number; headers: Headers; text: string; json: unknown }

export type ProviderCall = {
  provider: ProviderName
  url: string
  method: string
  headers?: Record<string, string>
  body?: string | ReadableStream<Uint8Array>
  timeoutMs: number
  /**
   * The caller's own clock instead of one `timeoutMs` for the whole exchange (a streamed upload times
   * each wait for the provider): it aborts `signal` and says whether it ran out.
   */
  deadline?: { signal: AbortSignal; timedOut: () => boolean }
  /** Told how long the provider took, for the request log's upstream timing. */
  onTiming?: (ms: number) => void
  /** How to send it: the global fetch, or a service binding's (the test-mode simulator). */
  fetch?: ProviderFetch
}

export type ProviderFetch = (url: string, init: RequestInit) => Promise<Response>

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/**
 * One HTTP exchange with a provider. Network failures and timeouts become provider errors; every
 * HTTP answer, error statuses included, comes back for the adapter to interpret.
 */
export const callProvider = async (
  call: ProviderCall,
): Promise<{ ok: true; response: ProviderResponse } | { ok: false; error: ProviderError }> => {
  const started = Date.now()
  try {
    const res = await (call.fetch ?? fetch)(call.url, {
      method: call.method,
      headers: call.headers,
      body: call.body,
      signal: call.deadline?.signal ?? AbortSignal.timeout(call.timeoutMs),
    })
    const text = await res.text()
    return { ok: true, response: { status: res.status, headers: res.headers, text, json: parseJson(text) } }
  } catch (error) {
    const timedOut = call.deadline
      ? call.deadline.timedOut()
      : error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
    return {
      ok: false,
      error: {
        kind: timedOut ? 'timeout' : 'unavailable',
        provider: call.provider,
        status: null,
        code: null,
        message: timedOut ? `no answer within ${call.timeoutMs} ms` : 'connection failed',
      },
    }
  } finally {
    call.onTiming?.(Date.now() - started)
  }
}

/** Errors every provider shares: auth, rate limiting, outages. Adapters handle the rest. */
export const genericHttpError = (
  provider: ProviderName,
  status: number,
  message: string,
  code: string | null = null,
): ProviderError | null => {
  if (status === 401 || status === 403) return { kind: 'unauthorized', provider, status, code, message }
  if (status === 429) return { kind: 'rate_limited', provider, status, code, message, retryAfterSeconds: 60 }
  if (status >= 500 || status === 404 || status === 405) return { kind: 'unavailable', provider, status, code, message }
  return null
}

/** A rate limit's wait from the provider's Retry-After (seconds or an HTTP date), when it sends one. */
export const withRetryAfter = (error: ProviderError, headers: Headers, now = Date.now()): ProviderError => {
  if (error.kind !== 'rate_limited') return error
  const value = headers.get('retry-after')?.trim()
  if (!value) return error
  const seconds = /^\d+$/.test(value) ? Number(value) : Math.ceil((Date.parse(value) - now) / 1000)
  return Number.isFinite(seconds) ? { ...error, retryAfterSeconds: Math.min(Math.max(seconds, 1), 3600) } : error
}
