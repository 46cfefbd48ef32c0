import type { Context, MiddlewareHandler } from 'hono'

/**
 * Records what reached a sandbox (`GET /_sandbox/requests?method=&path=`) so tests can prove, for
 * example, that 100 concurrent creates reached the provider exactly once. Secrets are not kept:
 * no headers, bodies only when they are JSON, and the top-level `redact` fields (codes) masked.
 */
export type LoggedRequest = {
  at: string
  method: string
  path: string
  query: string
  credential: string | null
  body: unknown
  status: number
}

const MAX_ENTRIES = 20_000

export const createRequestLog = (credentialOf: (c: Context) => string | null, redact: readonly string[] = []) => {
  let entries: LoggedRequest[] = []

  const middleware: MiddlewareHandler = async (c, next) => {
    if (c.req.path.startsWith('/_sandbox/')) return next()
    let body: unknown = null
    if ((c.req.header('content-type') ?? '').includes('application/json')) {
      body = await c.req.raw
        .clone()
        .json()
        .catch(() => null)
      if (body && typeof body === 'object' && !Array.isArray(body)) {
        const masked = { ...(body as Record<string, unknown>) }
        for (const field of redact) if (field in masked) masked[field] = '[redacted]'
        body = masked
      }
    }
    await next()
    entries.push({
      at: new Date().toISOString(),
      method: c.req.method,
      path: c.req.path,
      query: new URL(c.req.url).search,
      credential: credentialOf(c),
      body,
      status: c.res.status,
    })
    if (entries.length > MAX_ENTRIES) entries = entries.slice(-MAX_ENTRIES / 2)
  }

  const mount = (app: { get: Function; delete: Function }) => {
    app.get('/_sandbox/requests', (c: Context) => {
      const method = c.req.query('method')
      const path = c.req.query('path')
      const credential = c.req.query('credential')
      const data = entries.filter(
        (e) =>
          (!method || e.method === method.toUpperCase()) &&
          (!path || e.path === path) &&
          (!credential || e.credential === credential),
      )
      return c.json({ data, count: data.length })
    })
    app.delete('/_sandbox/requests', (c: Context) => {
      clear()
      return c.json({ data: { success: true } })
    })
  }

  const clear = () => {
    entries = []
  }

  return { middleware, mount, clear }
}
