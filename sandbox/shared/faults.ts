import type { Context, MiddlewareHandler } from 'hono'

/**
 * Fault injection shared by the provider sandboxes (`POST /_sandbox/faults`).
 * A rule matches a method, a path pattern (`:param` segments, trailing `*`) and optionally request
 * headers (so parallel tests scope faults to their own credentials). While `count` lasts, a matching
 * request is delayed by `delay_ms` and/or answered with `status`/`body`. With `after: true` the
 * request is processed first and only the response is replaced or delayed: that is how a provider
 * that did the work but whose answer was lost (a timeout) looks to the caller. `response_headers`
 * go on a replaced answer (e.g. a Retry-After neither provider documents, to test honouring one).
 */
export type FaultRule = {
  id: string
  method?: string
  path?: string
  headers?: Record<string, string>
  count: number
  status?: number
  body?: unknown
  delay_ms?: number
  after?: boolean
  response_headers?: Record<string, string>
}

export type FaultInput = Omit<FaultRule, 'id' | 'count'> & { count?: number }

const pathMatches = (pattern: string, path: string): boolean => {
  if (pattern.endsWith('*')) return path.startsWith(pattern.slice(0, -1))
  const want = pattern.split('/')
  const got = path.split('/')
  return want.length === got.length && want.every((seg, i) => seg.startsWith(':') || seg === got[i])
}

export const createFaults = () => {
  let rules: FaultRule[] = []
  let seq = 0

  const add = (input: FaultInput): FaultRule => {
    const rule: FaultRule = { ...input, id: `flt_${++seq}`, count: input.count ?? 1 }
    rules.push(rule)
    return rule
  }

  const take = (c: Context): FaultRule | undefined => {
    const rule = rules.find(
      (r) =>
        r.count > 0 &&
        (!r.method || r.method.toUpperCase() === c.req.method) &&
        (!r.path || pathMatches(r.path, c.req.path)) &&
        Object.entries(r.headers ?? {}).every(([name, value]) => c.req.header(name) === value),
    )
    if (rule) rule.count -= 1
    return rule
  }

  return {
    add,
    list: () => rules.filter((r) => r.count > 0),
    clear: () => {
      rules = []
    },
    take,
  }
}

export type Faults = ReturnType<typeof createFaults>

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `errorBody(status)` gives the provider's own error envelope for a fault without a body. */
export const faultMiddleware =
  (faults: Faults, errorBody: (status: number) => unknown): MiddlewareHandler =>
  async (c, next) => {
    if (c.req.path.startsWith('/_sandbox/')) return next()
    const rule = faults.take(c)
    if (!rule) return next()
    const respond = () =>
      c.json((rule.body ?? errorBody(rule.status!)) as object, rule.status as 500, rule.response_headers)
    if (rule.after) {
      await next()
      if (rule.delay_ms) await sleep(rule.delay_ms)
      if (rule.status) c.res = respond()
      return
    }
    if (rule.delay_ms) await sleep(rule.delay_ms)
    if (rule.status) return respond()
    return next()
  }

/** Mounts `/_sandbox/faults` (POST one rule or `{rules:[...]}`, GET, DELETE). */
export const mountFaultRoutes = (app: { post: Function; get: Function; delete: Function }, faults: Faults) => {
  app.post('/_sandbox/faults', async (c: Context) => {
    const input = (await c.req.json().catch(() => null)) as FaultInput | { rules: FaultInput[] } | null
    if (!input || typeof input !== 'object') return c.json({ error: 'body must be a fault rule' }, 400)
    const created = 'rules' in input ? input.rules.map(faults.add) : [faults.add(input)]
    return c.json({ data: created }, 201)
  })
  app.get('/_sandbox/faults', (c: Context) => c.json({ data: faults.list() }))
  app.delete('/_sandbox/faults', (c: Context) => {
    faults.clear()
    return c.json({ data: { success: true } })
  })
}
