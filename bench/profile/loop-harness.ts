// `--loop`'s Worker: the gateway's bundle imported by a harness module that runs one gateway request
// many times inside a single request of its own, with the I/O canned after one real pass, so workerd's
// CPU per request is the gateway's own work (and the harness's small share), free of network noise.

/** The flag a bundle patch reads to know the harness is replaying (patched-bundles.ts, NO_QI_CRYPTO). */
export const REPLAYING_FLAG = '__tgwLoopReplaying'

/**
 * The harness module's source, importing the gateway from `./<bundleName>` (it re-exports its
 * Durable Object class, so the Worker starts with the gateway's bindings). Routes:
 * - `POST /__loop` {method, path, headers, body, n, replay, reset}: sends the gateway request `n` times. With `replay` false every fetch goes out
 *   and its answer is kept; with `replay` true a fetch seen before is answered from what was kept: a
 *   database pipeline request by its statements, in order within the request, leaving out the audit
 *   ones (a write carries as many waiting audit outcomes as happen to wait; their results are made up
 *   and the kept batch answer is re-aligned), anything else by method and URL. The rate limiter's
 *   Durable Object is a stand-in that always allows. Answers {statuses, misses}.
 * - `GET /__crypto?n=`: `n` ES512 sign + verify pairs (P-521, a generated key) in a loop, nothing else.
 */
export const loopHarnessSource = (bundleName: string) => `
import gateway from './${bundleName}'
export * from './${bundleName}'

const realFetch = globalThis.fetch.bind(globalThis)
const kept = new Map()
let replaying = false
let misses = 0
let seen = new Map()
const isAudit = (sql) => /audit_log/i.test(sql)
const pipelineShape = (text) => {
  const requests = JSON.parse(text).requests ?? []
  const sqls = []
  for (const r of requests) {
    if (r.stmt) sqls.push(r.stmt.sql)
    if (r.batch) for (const step of r.batch.steps) sqls.push(step.stmt.sql)
  }
  return { types: requests.map((r) => r.type).join('+'), sqls }
}
const keyOf = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
  const method = init?.method ?? input?.method ?? 'GET'
  if (!url.endsWith('/v2/pipeline')) return { key: method + ' ' + url, shape: null }
  const text = typeof init?.body === 'string' ? init.body : input instanceof Request ? await input.clone().text() : await new Response(init?.body).text()
  const shape = pipelineShape(text)
  return { key: 'db ' + shape.types + ' ' + shape.sqls.filter((q) => !isAudit(q)).join(' ; '), shape }
}
const AUDIT_RESULT = { cols: [], rows: [], affected_row_count: 1, last_insert_rowid: null, rows_read: 0, rows_written: 1 }
const realigned = (answer, shape) => {
  const result = answer.shape?.types === 'batch+close' ? JSON.parse(answer.text).results?.[0]?.response?.result : null
  if (!result || answer.status !== 200) return answer.body
  const ours = answer.shape.sqls
    .map((q, i) => ({ q, result: result.step_results[i], error: result.step_errors[i] }))
    .filter((step) => !isAudit(step.q))
  let next = 0
  const steps = shape.sqls.map((q) => (isAudit(q) ? { result: AUDIT_RESULT, error: null } : ours[next++] ?? { result: null, error: null }))
  const whole = JSON.parse(answer.text)
  whole.results[0].response.result = { ...result, step_results: steps.map((s) => s.result), step_errors: steps.map((s) => s.error) }
  return JSON.stringify(whole)
}
globalThis.fetch = async (input, init) => {
  const { key: bare, shape } = await keyOf(input, init)
  const nth = (seen.get(bare) ?? 0) + 1
  seen.set(bare, nth)
  const key = bare + ' #' + nth
  const answer = replaying ? kept.get(key) : undefined
  if (answer) return new Response(realigned(answer, shape), { status: answer.status, headers: answer.headers })
  if (replaying) misses++
  const response = await realFetch(input, init)
  const body = await response.arrayBuffer()
  kept.set(key, { status: response.status, headers: [...response.headers], body, shape, text: shape ? new TextDecoder().decode(body) : null })
  return new Response(body, { status: response.status, headers: response.headers })
}

const allowing = { idFromName: () => ({}), get: () => ({ take: async (limit) => ({ allowed: true, limit, remaining: limit - 1, resetMs: 10000 }) }) }
// One env object for every request, as workerd gives an isolate (the gateway caches what it parses from it).
const loopEnvs = new WeakMap()
const loopEnvOf = (env) => {
  if (!loopEnvs.has(env)) loopEnvs.set(env, { ...env, RATE_LIMITER: allowing })
  return loopEnvs.get(env)
}
const loop = async (request, env, origin) => {
  const spec = await request.json()
  if (spec.reset) kept.clear()
  misses = 0
  const pending = []
  const ctx = { waitUntil: (p) => pending.push(Promise.resolve(p).catch(() => {})), passThroughOnException() {} }
  const statuses = {}
  for (let i = 0; i < spec.n; i++) {
    replaying = spec.replay
    globalThis.${REPLAYING_FLAG} = replaying
    seen = new Map()
    // A body with its length declared, as a partner's HTTP request arrives.
    const headers = spec.body === undefined ? spec.headers : { ...spec.headers, 'content-length': String(new TextEncoder().encode(spec.body).byteLength) }
    const answer = await gateway.fetch(new Request(origin + spec.path, { method: spec.method, headers, body: spec.body }), loopEnvOf(env), ctx)
    await answer.arrayBuffer()
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
  }
  replaying = false
  globalThis.${REPLAYING_FLAG} = false
  await Promise.all(pending)
  return Response.json({ statuses, misses })
}

const ES512 = { name: 'ECDSA', hash: 'SHA-512' }
const CRYPTO_INPUT = new TextEncoder().encode('x'.repeat(260))
let cryptoKit = null
const cryptoPairs = async (n) => {
  if (!cryptoKit) {
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-521' }, false, ['sign', 'verify'])
    cryptoKit = { keys, signature: await crypto.subtle.sign(ES512, keys.privateKey, CRYPTO_INPUT) }
  }
  for (let i = 0; i < n; i++) {
    await crypto.subtle.sign(ES512, cryptoKit.keys.privateKey, CRYPTO_INPUT)
    if (!(await crypto.subtle.verify(ES512, cryptoKit.keys.publicKey, cryptoKit.signature, CRYPTO_INPUT))) throw new Error('does not verify')
  }
  return new Response(null, { status: 204 })
}

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url)
    if (url.pathname === '/__loop') return loop(request, env, url.origin)
    if (url.pathname === '/__crypto') return cryptoPairs(Number(url.searchParams.get('n')))
    return gateway.fetch(request, env, ctx)
  },
  queue: (batch, env, ctx) => gateway.queue(batch, env, ctx),
  scheduled: (controller, env, ctx) => gateway.scheduled(controller, env, ctx),
}
`
