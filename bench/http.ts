import type { Miniflare } from 'miniflare'

type Answer = { status: number; headers: Headers; text: () => Promise<string> }
/** `body` is text (JSON) or bytes (a multipart body encoded once, so every request sends the same bytes). */
export type Init = {
  method: string
  headers?: Record<string, string>
  body?: string | Uint8Array<ArrayBuffer>
  redirect?: 'error'
  window?: null
}

// A request that hangs fails the bench instead of stalling it; no healthy op comes near this.
const REQUEST_TIMEOUT_MS = 15_000

/** How requests reach the Worker (or the sandbox): `fetch(path, init)` relative to one origin. */
export type Transport = { name: string; fetch: (path: string, init: Init) => Promise<Answer> }

/** Node's own fetch (undici, keep-alive) to a real port: what a partner's HTTP client does. */
export const httpTransport = (name: string, origin: URL | string): Transport => {
  const base = new URL(origin)
  return {
    name,
    fetch: (path, init) => fetch(new URL(path, base), { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
  }
}

/**
 * Miniflare's dispatchFetch: also HTTP to workerd's entry socket underneath, but through
 * Miniflare's own undici pool and header rewriting, so it is measured separately.
 */
export const dispatchTransport = (name: string, mf: Miniflare): Transport => ({
  name,
  fetch: (path, init) =>
    mf.dispatchFetch(`http://gateway.bench${path}`, {
      ...init,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    }) as unknown as Promise<Answer>,
})

/** Reads the whole answer (so the op's time includes the body) and insists on the expected status. */
export const expect = async (
  answer: Promise<Answer>,
  status: number,
  what: string,
  mustContain?: string,
): Promise<string> => {
  const res = await answer
  const text = await res.text()
  if (res.status !== status || (mustContain !== undefined && !text.includes(mustContain))) {
    throw new Error(
      `${what}: expected ${status}${mustContain ? ` with ${mustContain}` : ''}, got ${res.status}: ${text.slice(0, 400)}`,
    )
  }
  return text
}

export const jsonInit = (method: string, body: unknown, token?: string): Init => ({
  method,
  headers: {
    'content-type': 'application/json',
    accept: 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  },
  body: JSON.stringify(body),
})

export const getInit = (token?: string): Init => ({
  method: 'GET',
  headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
})
