import { timingSafeEqual } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DbHandle, openDbHandle } from './database'
import { ClosedError, ProtocolError } from './errors'
import { type HranaContext, serveCursor, servePipeline } from './hrana'
import { createStatsCounter, type Stats } from './stats'
import { createStreams } from './streams'

export type { Stats } from './stats'

/** Whether every statement of a pipeline writes the gateway's bookkeeping (audit log, provider call counts), which it writes on timers. */
const writesOnlyBookkeeping = (body: unknown): boolean => {
  type Stmt = { sql?: unknown; sql_id?: unknown }
  type Request = { type?: string; sql?: unknown; sql_id?: unknown; stmt?: Stmt; batch?: { steps?: { stmt?: Stmt }[] } }
  const requests = (body as { requests?: unknown } | null)?.requests
  if (!Array.isArray(requests)) return false
  // Statements may name SQL stored earlier in the same pipeline (store_sql), as @libsql/client's batches do.
  const stored = new Map<unknown, unknown>()
  const sqls: unknown[] = []
  const sqlOf = (stmt: Stmt | undefined) => (stmt?.sql !== undefined ? stmt.sql : stored.get(stmt?.sql_id))
  for (const request of requests as Request[]) {
    if (request?.type === 'store_sql') stored.set(request.sql_id, request.sql)
    else if (request?.type === 'execute') sqls.push(sqlOf(request.stmt))
    else if (request?.type === 'batch') for (const step of request.batch?.steps ?? []) sqls.push(sqlOf(step?.stmt))
  }
  const writes = sqls.filter((sql) => typeof sql !== 'string' || !/^\s*(begin|commit|rollback)\b/i.test(sql))
  return (
    writes.length > 0 &&
    writes.every(
      (sql) => typeof sql === 'string' && /^\s*insert\s+into\s+"?(audit_log|provider_call_stats)"?\s/i.test(sql),
    )
  )
}

export type LibsqlServerOptions = {
  /** 0 picks a free port. */
  port?: number
  host?: string
  /** Directory of the `<name>.db` files, or ':memory:' for a private temporary one removed on close. */
  dataDir: string
  /** When set, pipeline and cursor requests need `Authorization: Bearer <authToken>`. */
  authToken?: string
  /** Streams (batons) idle longer than this are closed, rolling back their transaction. */
  batonIdleTimeoutMs?: number
  /** How long a write waits for another connection's transaction before failing with SQLITE_BUSY. */
  lockWaitTimeoutMs?: number
}

export type LibsqlServer = {
  /** Base URL without a trailing slash: `${url}/<db>/` reaches database `<db>`, `url` itself `main`. */
  url: string
  port: number
  close: () => Promise<void>
  stats: () => Stats
  resetStats: () => void
}

const DB_NAME = /^[A-Za-z0-9_-]{1,64}$/
const VERSIONS = new Set(['v2', 'v3', 'v3-protobuf'])
const MAX_BODY_BYTES = 64 * 1024 * 1024

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

/** Answers the body's length in bytes (0 when nothing could be sent). */
const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  if (res.headersSent || res.destroyed) return 0
  const text = JSON.stringify(body)
  const length = Buffer.byteLength(text)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': length })
  res.end(text)
  return length
}

// `error` is what sqld sends; `message`/`code` (the Hrana Error shape) make @libsql/client report
// the reason instead of a bare "Server returned HTTP status 400".
const sendError = (res: ServerResponse, status: number, message: string, code: string) =>
  sendJson(res, status, { error: message, message, code })

const readJson = async (req: IncomingMessage): Promise<{ value: unknown; bytes: number }> => {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'Request body is too large', 'REQUEST_TOO_LARGE')
    chunks.push(chunk as Buffer)
  }
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')), bytes: size }
  } catch {
    throw new ProtocolError('Could not parse the request body as JSON')
  }
}

/** `/v2/pipeline` is database `main`; `/<db>/v2/pipeline` is database `<db>`. */
const route = (pathname: string): { db: string; endpoint: string } => {
  const segments = pathname.slice(1).split('/')
  if (VERSIONS.has(segments[0]!)) return { db: 'main', endpoint: segments.join('/') }
  return { db: segments[0]!, endpoint: segments.slice(1).join('/') }
}

const bearerMatches = (header: string | undefined, token: string) => {
  const given = Buffer.from(header ?? '')
  const expected = Buffer.from(`Bearer ${token}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export const startLibsqlServer = async (options: LibsqlServerOptions): Promise<LibsqlServer> => {
  const { port = 0, host = '127.0.0.1', authToken, batonIdleTimeoutMs = 10_000, lockWaitTimeoutMs = 5_000 } = options
  const memory = options.dataDir === ':memory:'
  const dataDir = memory ? mkdtempSync(join(tmpdir(), 'libsql-server-')) : options.dataDir
  mkdirSync(dataDir, { recursive: true })

  const databases = new Map<string, DbHandle>()
  const streams = createStreams(batonIdleTimeoutMs)
  const stats = createStatsCounter()
  const ctx: HranaContext = { streams, lockTimeoutMs: lockWaitTimeoutMs }
  let closing = false

  const database = (name: string): DbHandle => {
    let db = databases.get(name)
    if (!db) databases.set(name, (db = openDbHandle(name, join(dataDir, `${name}.db`))))
    return db
  }

  const serveHrana = async (req: IncomingMessage, res: ServerResponse, dbName: string, endpoint: string) => {
    if (req.method === 'GET' && (endpoint === 'v2' || endpoint === 'v3')) {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`Hello, this is HTTP API ${endpoint} (Hrana over HTTP)`)
      return
    }
    const kind =
      endpoint === 'v2/pipeline' || endpoint === 'v3/pipeline'
        ? 'pipeline'
        : endpoint === 'v3/cursor'
          ? 'cursor'
          : undefined
    // No protobuf: a 404 on `v3-protobuf` makes clients fall back to JSON.
    if (!kind || req.method !== 'POST') throw new HttpError(404, 'Not found', 'NOT_FOUND')
    if (authToken !== undefined && !bearerMatches(req.headers.authorization, authToken)) {
      throw new HttpError(
        401,
        'Unauthorized: a valid `Authorization: Bearer <token>` header is required',
        'UNAUTHORIZED',
      )
    }
    if (closing) throw new ClosedError('The server is closing')
    stats.count(dbName, kind)
    const { value: body, bytes } = await readJson(req)
    if (kind === 'pipeline' && writesOnlyBookkeeping(body)) stats.bookkeepingOnly(dbName)
    const db = database(dbName)
    const started = performance.now()
    if (kind === 'pipeline') {
      const answer = await servePipeline(ctx, db, body, endpoint === 'v2/pipeline' ? 2 : 3)
      stats.served(dbName, performance.now() - started)
      stats.bytes(dbName, bytes, sendJson(res, 200, answer))
      return
    }
    const { entries, ...head } = await serveCursor(ctx, db, body)
    stats.served(dbName, performance.now() - started)
    if (res.destroyed) return
    const lines = [head, ...entries].map((entry) => `${JSON.stringify(entry)}\n`).join('')
    const length = Buffer.byteLength(lines)
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': length })
    res.end(lines)
    stats.bytes(dbName, bytes, length)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const pathname = query < 0 ? url : url.slice(0, query)
    if (pathname === '/health' && req.method === 'GET') return sendJson(res, 200, { ok: true })
    if (pathname === '/_stats' && req.method === 'GET') return sendJson(res, 200, stats.snapshot())
    if (pathname === '/_stats/reset' && req.method === 'POST') {
      stats.reset()
      return sendJson(res, 200, stats.snapshot())
    }
    const { db, endpoint } = route(pathname)
    if (db === '') throw new HttpError(404, 'Not found', 'NOT_FOUND')
    if (!DB_NAME.test(db)) {
      throw new HttpError(
        400,
        `Invalid database name ${JSON.stringify(db)}: use 1-64 of [A-Za-z0-9_-]`,
        'INVALID_DATABASE_NAME',
      )
    }
    await serveHrana(req, res, db, endpoint)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (e instanceof HttpError) return sendError(res, e.status, e.message, e.code)
      if (e instanceof ProtocolError) return sendError(res, 400, e.message, e.code)
      if (e instanceof ClosedError) return sendError(res, 503, e.message, 'SERVER_CLOSING')
      console.error('libsql-server: internal error:', e)
      sendError(res, 500, `Internal server error: ${e instanceof Error ? e.message : String(e)}`, 'INTERNAL_ERROR')
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const actualPort = (server.address() as AddressInfo).port
  const urlHost = host.includes(':') ? `[${host}]` : host

  const close = async () => {
    if (closing) return
    closing = true
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeAllConnections()
    streams.closeAll()
    for (const db of databases.values()) db.close()
    databases.clear()
    await stopped
    if (memory) rmSync(dataDir, { recursive: true, force: true })
  }

  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    close,
    stats: stats.snapshot,
    resetStats: stats.reset,
  }
}
