import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import { Miniflare } from 'miniflare'
import { dbProbeAt, PROBE_ROWS, probeStatements } from './db-probe'
import { expect, getInit, httpTransport, type Init } from './http'
import { bothInTurn } from './load'
import { findDescendants, procAvailable } from './memory'
import { sfoxOps } from './sfox'
import type { Stack } from './stack'
import { summarize } from './stats'

/**
 * The gateway does its I/O from inside workerd, whose outbound path need not cost per call what
 * Node's does (the bench's first estimate of the gateway's own time subtracted I/O measured from
 * Node). This probe measures that I/O where the gateway does it: a tiny Worker of its own, in a
 * second workerd (a Miniflare instance of its own, so the gateway's instance stays exactly as it
 * is), with the gateway's compatibility date and flags, calling the same servers the same way, and
 * the same calls made from Node right before or after, so the two sides differ only by the runtime.
 */
export const IO_PROBES = ['db_update', 'db_select', 'sfox', 'qi', 'do'] as const
export type IoProbeKind = (typeof IO_PROBES)[number]

/** What each probe call is (the same bytes from Node and from workerd, except the DO call). */
export const IO_PROBE_LABELS: Record<IoProbeKind, string> = {
  db_update: 'DB: write batch of 1 UPDATE (gateway DB)',
  db_select: 'DB: SELECT by primary key (gateway DB)',
  sfox: 'sFOX sandbox: POST resend-confirmation',
  qi: 'QI sandbox: GET /_sandbox/nope (unsigned, transport proxy)',
  do: 'Durable Object RPC: get(idFromName).take()',
}

/** Consecutive calls per batch for the batch p50: a figure workerd's whole-millisecond clock can give as it is. */
export const IO_PROBE_BATCH = 20
/** A call of this many clock ticks (ms) or more is a stall (a GC pause, the scheduler): left out of the typical call. */
export const IO_PROBE_STALL_MS = 4
/** Each side's calls are spread over this many rounds, the sides alternating, so drift hits both. */
const ROUNDS = 5
/** Untimed calls per probe and side before the first round; and at the start of every probe request. */
const WARMUP = 50
const REQUEST_WARMUP = 2
/** Bytes of the body the crypto floor's MD5 hashes: about a QI answer's. */
export const CRYPTO_BODY_BYTES = 600
export const CRYPTO_OPS = ['sign', 'verify', 'md5'] as const
export type CryptoOp = (typeof CRYPTO_OPS)[number]
/** The table the probe writes and reads in the gateway's own database (it is the probe's alone). */
export const IO_PROBE_TABLE = 'bench_io_probe'
const TIMEOUT_MS = 10_000

/**
 * One side's figures, ms per call, all but `perCallP50` computed the same way for both runtimes
 * from whole-millisecond clock readings taken right after each call (workerd's clock; Node's
 * performance.now() floored to the millisecond).
 */
export type IoProbeSide = {
  calls: number
  /** Median, over batches of IO_PROBE_BATCH consecutive calls, of the batch's mean; and the extremes. */
  batchP50: number
  batchMin: number
  batchMax: number
  /**
   * The typical call: the mean of the calls' whole-millisecond durations, calls of IO_PROBE_STALL_MS
   * or more left out. With the calls' phase against the clock's ticks random, a mean of ticks is
   * the mean of the durations (a median of ticks would be 0 or 1); leaving stalls out keeps rare
   * pauses from weighing like a long tail does in a mean.
   */
  typical: number
  /** Share of the calls left out of `typical` as stalls. */
  stallShare: number
  /** Node only (null for workerd): the median of the single calls, timed to the microsecond. */
  perCallP50: number | null
}

export type IoProbe = {
  node: IoProbeSide | null
  workerd: IoProbeSide
  /** workerd − Node, typical calls: what the same call costs more (or less) from workerd. null without a Node side. */
  delta: number | null
  /**
   * One call's p50 from workerd (an estimate), the figure to set beside p50s of single ops: Node's
   * single-call p50 + `delta`. Without a Node side (the DO call): workerd's typical call.
   */
  workerdPerCallP50: number
  /**
   * DB probes only (null otherwise): the libSQL server's mean time executing one of the probe's
   * requests (its `serve_ms` over its request count, workerd's calls), so the transport part of a
   * round trip is `workerdPerCallP50 − serveMsPerCall`.
   */
  serveMsPerCall: number | null
}

export type IoProbeResults = {
  batchSize: number
  stallMs: number
  rounds: number
  /** Timed calls per probe and side. */
  calls: number
  /** Bytes of the bundled probe Worker (@libsql/client/web bundled by esbuild, as wrangler does). */
  bundleBytes: number
  /** Wall time of preparing, bundling and starting the probe's workerd, ms. */
  startMs: number
  database: string
  probes: Record<IoProbeKind, IoProbe>
}

// The probe Worker. Everything it does per call is what the gateway does per call: @libsql/client/web
// (createClient, batch(..., 'write'), execute), fetch with AbortSignal.timeout like callProvider in
// src/providers/outbound.ts, and the rate limiter's Durable Object call like src/middleware/rate-limit.ts.
const probeSource = (table: string) => {
  const sql = probeStatements(table)
  return `
import { createClient } from '@libsql/client/web'
// The gateway's own rate limiter class (src/durable-objects/rate-limiter.ts), bundled into the probe.
export { PartnerRateLimiter } from './src/durable-objects/rate-limiter'

const ROWS = ${PROBE_ROWS}
const TIMEOUT_MS = ${TIMEOUT_MS}
const check = async (res, status, what) => {
  const text = await res.text()
  if (res.status !== status) throw new Error(what + ': expected ' + status + ', got ' + res.status + ': ' + text.slice(0, 300))
}

const probes = {
  db_update: (env) => {
    const client = createClient({ url: env.DB_URL })
    return {
      call: async (i) => { await client.batch([{ sql: ${JSON.stringify(sql.update)}, args: [(i % ROWS) + 1] }], 'write') },
      close: () => client.close(),
    }
  },
  db_select: (env) => {
    const client = createClient({ url: env.DB_URL })
    return {
      call: async (i) => {
        const rs = await client.execute({ sql: ${JSON.stringify(sql.select)}, args: [(i % ROWS) + 1] })
        if (rs.rows.length !== 1) throw new Error('db probe: the row is missing')
      },
      close: () => client.close(),
    }
  },
  sfox: (env) => ({
    call: async () => {
      const res = await fetch(new URL('/v1/enterprise/transfer/resend-confirmation', env.SFOX_URL).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer ' + env.SFOX_KEY },
        body: JSON.stringify({ transfer_id: env.SFOX_TRANSFER }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      await check(res, 200, 'sfox resend')
    },
  }),
  qi: (env) => ({
    call: async () => {
      const res = await fetch(new URL('/_sandbox/nope', env.QI_URL).toString(), {
        method: 'GET',
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      await check(res, 404, 'qi floor')
    },
  }),
  do: (env) => ({
    call: async () => {
      const namespace = env.PROBE_LIMITER
      const quota = await namespace.get(namespace.idFromName('probe-partner')).take(1000000000, 10000)
      if (!quota.allowed) throw new Error('probe limiter refused')
    },
  }),
}

// The I/O replay (cpu-judge.ts): a gateway request's I/O without the gateway. A shape is what one
// kind of gateway request does on the wire: the rate limiter's DO call, its DB round trips (bytes
// each way, as the libSQL server counted them), its sFOX or QI call, its log lines, and its answer
// (status, headers and body as the gateway sent them). Everything a replay needs is built when the shape is set, so per
// request it runs no more JavaScript than the I/O itself asks for.
const shapes = new Map()
const DB_SQL = 'SELECT hex(zeroblob(?)) AS pad WHERE ? IS NOT NULL'
const dbBody = (zeroBytes, padChars) =>
  JSON.stringify({ baton: null, requests: [{ type: 'execute', stmt: { sql: DB_SQL, args: [{ type: 'integer', value: String(zeroBytes) }, { type: 'text', value: 'x'.repeat(padChars) }], want_rows: true } }, { type: 'close' }] })
const dbCall = async (endpoint, body) => {
  const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const text = await res.text()
  if (res.status !== 200) throw new Error('replay db: ' + res.status + ': ' + text.slice(0, 300))
  return text.length
}
// The body of a round trip: \`requestBytes\` long (the text pad fills it up), answered with
// \`responseBytes\` (hex(zeroblob(k)) is 2k characters; one call with k = 0 measures the rest).
const dbBodyOf = async (endpoint, requestBytes, responseBytes) => {
  const padFor = (zeroBytes) => Math.max(0, requestBytes - dbBody(zeroBytes, 0).length)
  const bare = await dbCall(endpoint, dbBody(0, padFor(0)))
  const zeroBytes = Math.max(0, Math.round((responseBytes - bare) / 2))
  return dbBody(zeroBytes, padFor(zeroBytes))
}
// QI's protocol (v2 signing) asks of any client, per call: the MD5 of the body sent, one ES512 (P-521)
// signature over {payload_md5, timestamp, method, uri}, and for a signed answer one ES512 verification
// and the MD5 of the body received. The replay does exactly that much, with WebCrypto, keys imported once.
const ECDSA_P521 = { name: 'ECDSA', namedCurve: 'P-521' }
const ES512 = { name: 'ECDSA', hash: 'SHA-512' }
const encoder = new TextEncoder()
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
const md5Hex = async (text) => {
  const bytes = new Uint8Array(await crypto.subtle.digest('MD5', encoder.encode(text)))
  let hex = ''
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]]
  return hex
}
const base64Url = (binary) => btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')
const bytesOfBinary = (binary) => {
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}
const binaryOfBase64Url = (text) => atob(text.replaceAll('-', '+').replaceAll('_', '/'))
const derOfPem = (pem) => bytesOfBinary(atob(pem.replace(/-----[^-]+-----|\\s+/g, '')))
const JWT_HEADER = base64Url(JSON.stringify({ alg: 'ES512', typ: 'JWT' }))
const es512Jwt = async (claims, privateKey) => {
  const input = JWT_HEADER + '.' + base64Url(JSON.stringify(claims))
  const signature = new Uint8Array(await crypto.subtle.sign(ES512, privateKey, encoder.encode(input)))
  return input + '.' + base64Url(String.fromCharCode(...signature))
}
/** QI's signed answer: its ES512 signature with QI's key, and its body's MD5 against the signed one. */
const verifyAnswer = async (token, text, publicKey) => {
  const [header, payload, signature] = (token || '').split('.')
  const valid = await crypto.subtle.verify(ES512, publicKey, bytesOfBinary(binaryOfBase64Url(signature || '')), encoder.encode(header + '.' + payload))
  if (!valid) throw new Error('replay qi: the answer signature does not verify')
  if (!binaryOfBase64Url(payload).includes(await md5Hex(text))) throw new Error("replay qi: the answer's MD5 is not the signed one")
}
// TED keys QI gave the replay's creates, by the request_control_key the create sent (the replay's id).
const tedKeys = new Map()
const TED_KEY = /"ted_key"\\s*:\\s*"([^"]+)"/
const qiCall = async (qi, id) => {
  const tedKey = qi.tedKeyInPath ? tedKeys.get(id) : ''
  if (tedKey === undefined) throw new Error('replay qi: no TED was created for ' + id)
  const path = qi.pathBefore + tedKey + qi.pathAfter
  const body = qi.bodyBefore + (qi.idInBody ? id : '') + qi.bodyAfter
  const claims = { payload_md5: await md5Hex(body), timestamp: new Date().toISOString(), method: qi.method, uri: path }
  const headers = { AUTHORIZATION: await es512Jwt(claims, qi.privateKey), 'API-CLIENT-KEY': qi.apiClientKey, accept: 'application/json', 'content-type': 'application/json' }
  const res = await fetch(qi.origin + path, { method: qi.method, headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) })
  const text = await res.text()
  if (res.status !== qi.status) throw new Error('replay qi: ' + res.status + ': ' + text.slice(0, 300))
  await verifyAnswer(res.headers.get('authorization'), text, qi.publicKey)
  if (!qi.tedKeyInPath) tedKeys.set(id, TED_KEY.exec(text)[1])
}
const setShape = async (name, spec, env) => {
  const endpoint = new URL('v2/pipeline', env.DB_URL).toString()
  const db = []
  for (let i = 0; i < spec.db.count; i++) db.push(await dbBodyOf(endpoint, spec.db.requestBytes, spec.db.responseBytes))
  // The sFOX call's body is the bench's own (bench/sfox.ts), split around the transfer id.
  const sfox = spec.sfox ? { ...spec.sfox, url: new URL(spec.sfox.path, env.SFOX_URL).toString() } : null
  const sfoxHeaders = { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer ' + env.SFOX_KEY }
  const qi = spec.qi
    ? {
        ...spec.qi,
        origin: new URL(env.QI_URL).origin,
        privateKey: await crypto.subtle.importKey('pkcs8', derOfPem(spec.qi.privateKeyPem), ECDSA_P521, false, ['sign']),
        publicKey: await crypto.subtle.importKey('spki', derOfPem(spec.qi.qiPublicKeyPem), ECDSA_P521, false, ['verify']),
      }
    : null
  shapes.set(name, { ...spec, endpoint, db, sfox, sfoxHeaders, qi })
}

// The crypto floor: n of one operation in a loop, nothing else (the caller subtracts a request with n = 0).
// workerd runs WebCrypto on the event-loop thread, so /proc counts it there.
let cryptoKit = null
const CRYPTO_INPUT = encoder.encode(JWT_HEADER + '.' + base64Url(JSON.stringify({ payload_md5: HEX.slice(0, 16).join(''), timestamp: new Date(0).toISOString(), method: 'PUT', uri: '/account/00000000-0000-4000-8000-000000000000/ted/00000000-0000-4000-8000-000000000000/validate_token' })))
const CRYPTO_BODY = JSON.stringify({ data: 'x'.repeat(${CRYPTO_BODY_BYTES} - 11) })
const cryptoOps = {
  sign: (kit) => crypto.subtle.sign(ES512, kit.keys.privateKey, CRYPTO_INPUT),
  verify: async (kit) => {
    if (!(await crypto.subtle.verify(ES512, kit.keys.publicKey, kit.signature, CRYPTO_INPUT))) throw new Error('crypto floor: does not verify')
  },
  md5: () => crypto.subtle.digest('MD5', encoder.encode(CRYPTO_BODY)),
}
const cryptoLoop = async (op, n) => {
  if (!cryptoKit) {
    const keys = await crypto.subtle.generateKey(ECDSA_P521, false, ['sign', 'verify'])
    cryptoKit = { keys, signature: await crypto.subtle.sign(ES512, keys.privateKey, CRYPTO_INPUT) }
  }
  const run = cryptoOps[op]
  if (!run) return new Response('no such crypto op', { status: 404 })
  for (let i = 0; i < n; i++) await run(cryptoKit)
  return new Response(null, { status: 204 })
}

const replay = async (shape, request, id, env) => {
  await request.arrayBuffer()
  const limiter = env.PROBE_LIMITER
  const take = () => limiter.get(limiter.idFromName('replay-partner')).take(1000000000, 10000)
  const [first, ...rest] = shape.db
  if (shape.rateLimit === 'beside') {
    await Promise.all([take(), first && dbCall(shape.endpoint, first)])
  } else {
    if (shape.rateLimit === 'before') await take()
    if (first) await dbCall(shape.endpoint, first)
  }
  if (shape.sfox) {
    const res = await fetch(shape.sfox.url, { method: 'POST', headers: shape.sfoxHeaders, body: shape.sfox.bodyBefore + id + shape.sfox.bodyAfter, signal: AbortSignal.timeout(TIMEOUT_MS) })
    const text = await res.text()
    if (res.status !== shape.sfox.status) throw new Error('replay sfox: ' + res.status + ': ' + text.slice(0, 300))
  }
  if (shape.qi) await qiCall(shape.qi, id)
  for (const body of rest) await dbCall(shape.endpoint, body)
  for (const line of shape.logLines) (console[line.level] ?? console.log)(line.message)
  return new Response(shape.response.body, { status: shape.response.status, headers: shape.response.headers })
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url)
    if (url.pathname.startsWith('/replay/')) {
      try {
        const name = url.pathname.slice('/replay/'.length)
        if (request.method === 'PUT') {
          await setShape(name, await request.json(), env)
          return new Response(null, { status: 204 })
        }
        const shape = shapes.get(name)
        if (!shape) return new Response('no such shape', { status: 404 })
        return await replay(shape, request, url.searchParams.get('id'), env)
      } catch (error) {
        return new Response(String(error && error.stack || error), { status: 500 })
      }
    }
    if (url.pathname.startsWith('/crypto/')) {
      try {
        return await cryptoLoop(url.pathname.slice('/crypto/'.length), Number(url.searchParams.get('n')))
      } catch (error) {
        return new Response(String(error && error.stack || error), { status: 500 })
      }
    }
    const make = probes[url.pathname.slice(1)]
    if (!make) return new Response('no such probe', { status: 404 })
    const calls = Number(url.searchParams.get('calls'))
    const warmup = Number(url.searchParams.get('warmup'))
    const probe = make(env)
    try {
      let i = 0
      for (let w = 0; w < warmup; w++) await probe.call(i++)
      // workerd's clock stands still while JavaScript runs and moves on only when I/O completes:
      // read right after an awaited call, it is the moment that call's last I/O completed. Between
      // two such readings lies all the wall time of the call in between, its JavaScript included,
      // in whole milliseconds (Node sums and trims these the same way for both runtimes).
      let last = performance.now()
      const ticks = []
      for (let c = 0; c < calls; c++) {
        await probe.call(i++)
        const now = performance.now()
        ticks.push(now - last)
        last = now
      }
      return Response.json({ ticks })
    } catch (error) {
      return new Response(String(error && error.stack || error), { status: 500 })
    } finally {
      probe.close?.()
    }
  },
}
`
}

type BuildResult = { outputFiles: { text: string }[] }
type Esbuild = { build: (options: Record<string, unknown>) => Promise<BuildResult> }

/**
 * Bundles the probe with wrangler's own esbuild (resolved from wrangler's package, so it is the
 * one wrangler bundles the gateway with), with the conditions wrangler uses for Workers.
 */
const bundleProbe = async (root: string, source: string) => {
  const fromHere = createRequire(import.meta.url)
  const esbuild = createRequire(fromHere.resolve('wrangler/package.json'))('esbuild') as Esbuild
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: root, sourcefile: 'io-probe-worker.js', loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    write: false,
    logLevel: 'silent',
  })
  const code = result.outputFiles[0]?.text
  if (!code) throw new Error('io probe: esbuild produced no output')
  return code
}

const median = (xs: readonly number[]) => summarize(xs, 0).p50

/** A side's figures from its calls' whole-millisecond durations (and, for Node, their exact ones). */
const sideOf = (ticks: readonly number[], exact: readonly number[] | null): IoProbeSide => {
  const batchMeans: number[] = []
  for (let i = 0; i + IO_PROBE_BATCH <= ticks.length; i += IO_PROBE_BATCH) {
    batchMeans.push(ticks.slice(i, i + IO_PROBE_BATCH).reduce((sum, t) => sum + t, 0) / IO_PROBE_BATCH)
  }
  const kept = ticks.filter((t) => t < IO_PROBE_STALL_MS)
  return {
    calls: ticks.length,
    batchP50: median(batchMeans),
    batchMin: Math.min(...batchMeans),
    batchMax: Math.max(...batchMeans),
    typical: kept.reduce((sum, t) => sum + t, 0) / kept.length,
    stallShare: 1 - kept.length / ticks.length,
    perCallP50: exact ? median(exact) : null,
  }
}

const probeOf = (node: IoProbeSide | null, workerd: IoProbeSide): IoProbe => {
  const delta = node ? workerd.typical - node.typical : null
  return {
    node,
    workerd,
    delta,
    workerdPerCallP50: node?.perCallP50 != null && delta !== null ? node.perCallP50 + delta : workerd.typical,
    serveMsPerCall: null,
  }
}

type Progress = (line: string) => void

/**
 * Starts the probe Worker (bundled, in a workerd of its own), prepares what it calls (its table in
 * the gateway's database, an sFOX account with one pending transfer to resend), and returns
 * `measure`, which times every probe from Node and from workerd, `calls` timed calls per probe and
 * side, and `close`, which stops the probe's workerd (so the uploads phase finds only the gateway's).
 */
export const startIoProbe = async (stack: Stack, progress: Progress) => {
  const started = performance.now()
  const { gateway, sfox, qi, libsql } = stack
  const account = await sfox.newAccount()
  const sfoxDirect = sfoxOps(httpTransport('sfox', sfox.url), account.api_key)
  const transferId = 'io-probe-resend'
  await sfoxDirect.create(transferId)
  const db = await dbProbeAt(gateway.dbUrl, IO_PROBE_TABLE)
  const qiTransport = httpTransport('qi', qi.url)

  const code = await bundleProbe(resolve(import.meta.dirname, '..'), probeSource(IO_PROBE_TABLE))
  const workerdBefore = new Set(procAvailable() ? findDescendants('workerd') : [])
  const mf = new Miniflare({
    modules: true,
    script: code,
    compatibilityDate: gateway.compatibilityDate,
    compatibilityFlags: gateway.compatibilityFlags,
    durableObjects: { PROBE_LIMITER: { className: 'PartnerRateLimiter', useSQLite: true } },
    bindings: {
      DB_URL: gateway.dbUrl,
      SFOX_URL: sfox.url,
      SFOX_KEY: account.api_key,
      SFOX_TRANSFER: transferId,
      QI_URL: qi.url,
    },
    // As the gateway's instance (test/helpers/worker.ts): subrequests without Miniflare's proxy worker,
    // and log lines taken as structured logs and dropped (the replay writes the gateway's lines).
    stripCfConnectingIp: false,
    handleStructuredLogs: () => {},
  })
  let closed: Promise<void> | null = null
  const close = () => {
    closed ??= Promise.allSettled([mf.dispose(), db.close()]).then(() => undefined)
    return closed
  }
  stack.onClose(close)
  const url = (await mf.ready).toString()
  const startMs = performance.now() - started
  const fresh = procAvailable() ? findDescendants('workerd').filter((pid) => !workerdBefore.has(pid)) : []
  /** The probe's workerd (null without /proc, or if it cannot be told apart). */
  const pid = fresh.length === 1 ? fresh[0]! : null

  /** Sets what the replay of one kind of gateway request does (see the probe Worker's `setShape`). */
  const setReplayShape = async (name: string, shape: ReplayShape) => {
    const res = await fetch(new URL(`/replay/${name}`, url), {
      method: 'PUT',
      body: JSON.stringify(shape),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    })
    if (res.status !== 204)
      throw new Error(`io probe: replay shape ${name}: ${res.status}: ${(await res.text()).slice(0, 600)}`)
  }
  /** One replay: `init` is the gateway request's own (method, headers, body), `id` the sFOX transfer it acts on. */
  const replayTransport = httpTransport('replay', url)
  const replay = (name: string, id: string, init: Init, status: number) =>
    expect(replayTransport.fetch(`/replay/${name}?id=${encodeURIComponent(id)}`, init), status, `replay ${name} ${id}`)

  /** `n` of one crypto operation in a loop inside the probe Worker (ES512 with P-521 keys, MD5 of a body). */
  const cryptoLoop = (op: CryptoOp, n: number) =>
    expect(replayTransport.fetch(`/crypto/${op}?n=${n}`, getInit()), 204, `crypto floor ${op}`)

  /** `calls` timed calls inside the probe Worker: their durations in whole milliseconds. */
  const fromWorkerd = async (kind: IoProbeKind, calls: number, warmup: number) => {
    const query = new URLSearchParams({ calls: String(calls), warmup: String(warmup) })
    const res = await fetch(new URL(`/${kind}?${query}`, url), { signal: AbortSignal.timeout(120_000) })
    const text = await res.text()
    if (!res.ok) throw new Error(`io probe ${kind} in workerd: ${res.status}: ${text.slice(0, 600)}`)
    return (JSON.parse(text) as { ticks: number[] }).ticks
  }

  // The same calls from Node: each timed with performance.now(), and read as workerd reads its clock.
  const nodeCalls: Partial<Record<IoProbeKind, (i: number) => Promise<unknown>>> = {
    db_update: db.update,
    db_select: db.select,
    sfox: () => sfoxDirect.resend(transferId),
    qi: () => expect(qiTransport.fetch('/_sandbox/nope', getInit()), 404, 'qi floor'),
  }
  let nodeI = 0
  const fromNode = async (call: (i: number) => Promise<unknown>, calls: number, warmup: number) => {
    for (let w = 0; w < warmup; w++) await call(nodeI++)
    const exact: number[] = []
    const ticks: number[] = []
    let last = performance.now()
    for (let c = 0; c < calls; c++) {
      await call(nodeI++)
      const now = performance.now()
      exact.push(now - last)
      ticks.push(Math.floor(now) - Math.floor(last))
      last = now
    }
    return { exact, ticks }
  }

  const measure = async (calls: number): Promise<IoProbeResults> => {
    // Whole batches, spread over the rounds.
    const batches = Math.max(1, Math.ceil(calls / IO_PROBE_BATCH))
    const rounds = Math.min(ROUNDS, batches)
    const perRound = Array.from(
      { length: rounds },
      (_, r) => (Math.floor(batches / rounds) + (r < batches % rounds ? 1 : 0)) * IO_PROBE_BATCH,
    )
    progress(
      `I/O probe: ${batches * IO_PROBE_BATCH} calls per probe and side, from Node and from workerd (${IO_PROBES.join(', ')})`,
    )
    const samples = Object.fromEntries(
      IO_PROBES.map((k) => [
        k,
        { nodeExact: [] as number[], nodeTicks: [] as number[], workerdTicks: [] as number[], serveMs: 0, served: 0 },
      ]),
    ) as Record<
      IoProbeKind,
      { nodeExact: number[]; nodeTicks: number[]; workerdTicks: number[]; serveMs: number; served: number }
    >
    for (const kind of IO_PROBES) {
      const call = nodeCalls[kind]
      if (call) await fromNode(call, 0, WARMUP)
      await fromWorkerd(kind, 0, WARMUP)
    }
    for (let r = 0; r < rounds; r++) {
      for (const kind of IO_PROBES) {
        const call = nodeCalls[kind]
        const node = async () => {
          if (!call) return
          const { exact, ticks } = await fromNode(call, perRound[r]!, REQUEST_WARMUP)
          samples[kind].nodeExact.push(...exact)
          samples[kind].nodeTicks.push(...ticks)
        }
        const workerd = async () => {
          // Nothing else talks to the libSQL server meanwhile: its counters are this probe's.
          const before = libsql.stats()
          samples[kind].workerdTicks.push(...(await fromWorkerd(kind, perRound[r]!, REQUEST_WARMUP)))
          const after = libsql.stats()
          samples[kind].serveMs += after.serve_ms - before.serve_ms
          samples[kind].served +=
            after.pipeline_requests + after.cursor_requests - before.pipeline_requests - before.cursor_requests
        }
        await bothInTurn(r, node, workerd)
      }
    }
    const probes = Object.fromEntries(
      IO_PROBES.map((kind) => {
        const { nodeExact, nodeTicks, workerdTicks, serveMs, served } = samples[kind]
        const probe = probeOf(nodeCalls[kind] ? sideOf(nodeTicks, nodeExact) : null, sideOf(workerdTicks, null))
        return [kind, kind.startsWith('db_') && served > 0 ? { ...probe, serveMsPerCall: serveMs / served } : probe]
      }),
    ) as IoProbeResults['probes']
    return {
      batchSize: IO_PROBE_BATCH,
      stallMs: IO_PROBE_STALL_MS,
      rounds,
      calls: batches * IO_PROBE_BATCH,
      bundleBytes: Buffer.byteLength(code),
      startMs,
      database: `${gateway.dbUrl} (table ${IO_PROBE_TABLE})`,
      probes,
    }
  }

  return { measure, close, pid, setReplayShape, replay, cryptoLoop }
}

export type IoProbeWorker = Awaited<ReturnType<typeof startIoProbe>>

/**
 * What one kind of gateway request does on the wire, for the probe to replay: the rate limiter's
 * DO call before its work, beside its first DB round trip (a GET) or none; its DB round trips with
 * their mean bytes each way; its sFOX call (body split around the transfer id) or its QI call
 * (signed, its answer verified: QiReplay); and its answer
 * exactly as the gateway sent it (content-length left to the runtime).
 */
export type ReplayShape = {
  rateLimit: 'before' | 'beside' | 'none'
  db: { count: number; requestBytes: number; responseBytes: number }
  sfox: { path: string; status: number; bodyBefore: string; bodyAfter: string } | null
  qi: QiReplay | null
  /** The lines the gateway wrote for one such request (console method, text), written as they are. */
  logLines: { level: string; message: string }[]
  response: { status: number; headers: [string, string][]; body: string }
}

/**
 * One QI call as the gateway makes it: the path (split around the TED key the replay's own create got,
 * when the call names one), the body (split around the request_control_key, the replay's id, for a
 * create), the status QI must answer, and what signing needs: the partner's key pair side and QI's key.
 */
export type QiReplay = {
  method: string
  pathBefore: string
  pathAfter: string
  tedKeyInPath: boolean
  bodyBefore: string
  bodyAfter: string
  idInBody: boolean
  status: number
  apiClientKey: string
  privateKeyPem: string
  qiPublicKeyPem: string
}
