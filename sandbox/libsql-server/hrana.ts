import type { DbHandle } from './database'
import { ProtocolError, StmtError } from './errors'
import {
  type Busy,
  describe,
  executeBatch,
  executeSequence,
  executeStmt,
  type PreparedStep,
  prepareStmt,
} from './executor'
import {
  type BatchResult,
  type BatchStep,
  type CursorEntry,
  type PipelineRespBody,
  parseCursorBody,
  parsePipelineBody,
  type SqlRef,
  type StreamRequest,
  type StreamResponse,
  type StreamResult,
  type Version,
} from './protocol'
import type { Stream, Streams } from './streams'

/** Hrana over HTTP: runs pipeline and cursor requests on streams. */

export type HranaContext = { streams: Streams; lockTimeoutMs: number }

// Limits of sqld (libsql-server/src/hrana/http/request.rs); the client caches at most 30 texts.
const MAX_STORED_SQLS = 50
const MAX_STORED_SQL_BYTES = 5000

/** Runs a generator from executor.ts, waiting (without blocking) whenever it reports BUSY. */
export const drive = async <T>(db: DbHandle, gen: Busy<T>): Promise<T> => {
  for (let step = gen.next(); ; step = gen.next()) {
    if (step.done) return step.value
    try {
      await db.waitForUnlock(step.value)
    } catch (e) {
      gen.return(undefined as T)
      throw e
    }
  }
}

const resolveSql = (stream: Stream, ref: SqlRef): string => {
  if (ref.sql !== undefined && ref.sqlId !== undefined) throw new ProtocolError('Both `sql` and `sql_id` were given')
  if (ref.sql !== undefined) return ref.sql
  if (ref.sqlId === undefined) throw new ProtocolError('Neither `sql` nor `sql_id` was given')
  const sql = stream.sqls.get(ref.sqlId)
  if (sql === undefined) throw new ProtocolError(`SQL text with id ${ref.sqlId} was not found`, 'SQL_NOT_FOUND')
  return sql
}

/** Like sqld, checks every step's text and arguments before running any of them. */
const prepareSteps = (stream: Stream, steps: BatchStep[]): PreparedStep[] =>
  steps.map(({ condition, stmt }) => ({
    condition,
    prepared: prepareStmt(resolveSql(stream, stmt), stmt.args, stmt.namedArgs),
    wantRows: stmt.wantRows,
  }))

const storeSql = (stream: Stream, sqlId: number, sql: string) => {
  if (stream.sqls.has(sqlId)) throw new ProtocolError(`SQL text with id ${sqlId} already exists`, 'SQL_EXISTS')
  if (stream.sqls.size >= MAX_STORED_SQLS) {
    throw new StmtError(
      `The server already stores ${stream.sqls.size} SQL texts, it cannot store more`,
      'SQL_STORE_TOO_MANY',
    )
  }
  const size = Buffer.byteLength(sql)
  if (size > MAX_STORED_SQL_BYTES) {
    throw new StmtError(
      `The statement is too large to be stored: ${size} B/${MAX_STORED_SQL_BYTES} B`,
      'SQL_STORE_TOO_LARGE',
    )
  }
  stream.sqls.set(sqlId, sql)
}

function* respond(stream: Stream, req: StreamRequest, lockTimeoutMs: number): Busy<StreamResponse> {
  const { conn } = stream
  switch (req.type) {
    case 'close':
      stream.closing = true
      return { type: 'close' }
    case 'execute': {
      const prepared = prepareStmt(resolveSql(stream, req.stmt), req.stmt.args, req.stmt.namedArgs)
      return { type: 'execute', result: yield* executeStmt(conn, prepared, req.stmt.wantRows, lockTimeoutMs) }
    }
    case 'batch':
      return { type: 'batch', result: yield* executeBatch(conn, prepareSteps(stream, req.steps), lockTimeoutMs) }
    case 'sequence':
      yield* executeSequence(conn, resolveSql(stream, req), lockTimeoutMs)
      return { type: 'sequence' }
    case 'describe':
      return { type: 'describe', result: yield* describe(conn, resolveSql(stream, req), lockTimeoutMs) }
    case 'store_sql':
      storeSql(stream, req.sqlId, req.sql)
      return { type: 'store_sql' }
    case 'close_sql':
      stream.sqls.delete(req.sqlId)
      return { type: 'close_sql' }
    case 'get_autocommit':
      return { type: 'get_autocommit', is_autocommit: !conn.raw.inTransaction }
  }
}

const USES_CONNECTION = new Set<StreamRequest['type']>(['execute', 'batch', 'sequence', 'describe', 'get_autocommit'])

function* runPipeline(stream: Stream, requests: StreamRequest[], lockTimeoutMs: number): Busy<StreamResult[]> {
  const results: StreamResult[] = []
  for (const req of requests) {
    if (stream.closing && USES_CONNECTION.has(req.type)) {
      throw new ProtocolError('The stream has already been closed', 'STREAM_CLOSED')
    }
    try {
      results.push({ type: 'ok', response: yield* respond(stream, req, lockTimeoutMs) })
    } catch (e) {
      if (!(e instanceof StmtError)) throw e
      results.push({ type: 'error', error: { message: e.message, code: e.code } })
    }
  }
  return results
}

/**
 * Runs `work` on the request's stream (a new one without a baton) and returns the next baton, or
 * null once the stream is closed. A protocol error or shutdown drops the stream, as in sqld.
 */
const onStream = async <T>(
  ctx: HranaContext,
  db: DbHandle,
  baton: string | null,
  work: (stream: Stream) => Promise<T>,
): Promise<{ baton: string | null; value: T }> => {
  const stream = baton === null ? ctx.streams.open(db) : ctx.streams.acquire(baton, db)
  let next: string | null = null
  try {
    const value = await work(stream)
    if (!stream.closing) next = ctx.streams.release(stream)
    return { baton: next, value }
  } finally {
    // Closing notifies lock waiters itself. An open stream may have released the write lock only
    // if it is out of its transaction; while in one it still holds whatever it locked.
    if (next === null) ctx.streams.close(stream)
    else if (!stream.conn.raw.inTransaction) db.notifyUnlock()
  }
}

export const servePipeline = async (
  ctx: HranaContext,
  db: DbHandle,
  body: unknown,
  version: Version,
): Promise<PipelineRespBody> => {
  const req = parsePipelineBody(body, version)
  const { baton, value } = await onStream(ctx, db, req.baton, (stream) =>
    drive(db, runPipeline(stream, req.requests, ctx.lockTimeoutMs)),
  )
  return { baton, base_url: null, results: value }
}

const cursorEntries = (result: BatchResult): CursorEntry[] => {
  const entries: CursorEntry[] = []
  result.step_results.forEach((stepResult, step) => {
    const error = result.step_errors[step]
    if (stepResult) {
      entries.push({ type: 'step_begin', step, cols: stepResult.cols })
      for (const row of stepResult.rows) entries.push({ type: 'row', row })
      entries.push({
        type: 'step_end',
        affected_row_count: stepResult.affected_row_count,
        last_insert_rowid: stepResult.last_insert_rowid,
      })
    } else if (error) {
      entries.push({ type: 'step_error', step, error })
    }
  })
  return entries
}

/** `v3/cursor`: the batch result as cursor entries (sent as lines after the baton line). */
export const serveCursor = async (
  ctx: HranaContext,
  db: DbHandle,
  body: unknown,
): Promise<{ baton: string | null; base_url: null; entries: CursorEntry[] }> => {
  const req = parseCursorBody(body)
  const { baton, value } = await onStream(ctx, db, req.baton, async (stream): Promise<CursorEntry[]> => {
    try {
      const steps = prepareSteps(stream, req.steps)
      return cursorEntries(await drive(db, executeBatch(stream.conn, steps, ctx.lockTimeoutMs)))
    } catch (e) {
      if (!(e instanceof StmtError)) throw e
      return [{ type: 'error', error: { message: e.message, code: e.code } }]
    }
  })
  return { baton, base_url: null, entries: value }
}
