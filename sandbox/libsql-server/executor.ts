import { type Conn, prepareCached, syncReadOnly } from './database'
import { isRetryableBusy, type ProtoError, StmtError, toProtoError } from './errors'
import type { BatchCond, BatchResult, DescribeResult, StmtResult } from './protocol'
import { type ScannedStatement, scanSql } from './sql-text'
import { type SqlValue, valueToProto } from './values'

/**
 * Runs statements on one connection. `libsql` is synchronous, so everything here is too, except
 * that a statement refused with SQLITE_BUSY (another connection holds the write lock) must not
 * block the event loop that the lock holder also needs. These are generators instead: on BUSY they
 * yield the deadline, the caller awaits an unlock (see `drive`) and resumes them, and the statement
 * is retried. A BUSY statement has done nothing yet (WAL takes the write lock before any change),
 * so retrying it is what SQLite's busy handler would do, minus the blocking.
 */
export type Busy<T> = Generator<number, T, void>

/** A statement whose text and arguments have been checked, ready to run. */
export type Prepared = { stmt: ScannedStatement; bind: SqlValue[] }

type NamedArg = { name: string; value: SqlValue }

const SCAN_CACHE_MAX = 512
const scanCache = new Map<string, ScannedStatement[]>()

/** Scanning is pure, and drizzle sends the same texts over and over. */
const scanCached = (sql: string): ScannedStatement[] => {
  let scanned = scanCache.get(sql)
  if (!scanned) {
    scanned = scanSql(sql)
    if (scanCache.size >= SCAN_CACHE_MAX) scanCache.delete(scanCache.keys().next().value!)
    scanCache.set(sql, scanned)
  }
  return scanned
}

const argsInvalid = (detail: string) =>
  new StmtError(`Arguments do not match SQL parameters: ${detail}`, 'ARGS_INVALID')

// Same rules as sqld's Params::bind: positional arguments fill `?` and `?N`, named ones fill
// `:a`/`@a`/`$a` (given with or without the prefix), and a missing value is an error.
const bindArgs = (stmt: ScannedStatement, args: SqlValue[], namedArgs: NamedArg[]): SqlValue[] => {
  if (args.length > 0 && namedArgs.length > 0) {
    throw new StmtError(
      'Specifying both positional and named arguments is not supported',
      'ARGS_BOTH_POSITIONAL_AND_NAMED',
    )
  }
  const { params } = stmt
  const provided = namedArgs.length > 0 ? namedArgs.length : args.length
  if (provided > params.length) throw argsInvalid(`too many parameters, expected ${params.length} found ${provided}`)
  const named = namedArgs.length > 0 ? new Map(namedArgs.map((a) => [a.name, a.value])) : undefined
  const bound: SqlValue[] = []
  for (let i = 0; i < params.length; i++) {
    const name = params[i] ?? null
    let value: SqlValue | undefined
    if (named) {
      if (name !== null && !name.startsWith('?')) value = named.has(name) ? named.get(name) : named.get(name.slice(1))
    } else {
      value = name === null ? args[i] : name.startsWith('?') ? args[Number(name.slice(1)) - 1] : undefined
    }
    if (value === undefined) {
      if (!stmt.isExplain) throw argsInvalid(`value for parameter ${name ?? i + 1} not found`)
      value = null
    }
    bound.push(value)
  }
  return bound
}

const singleStatement = (sql: string): ScannedStatement => {
  const scanned = scanCached(sql)
  if (scanned.length === 0) throw new StmtError('SQL string does not contain any statement', 'SQL_NO_STATEMENT')
  if (scanned.length > 1) throw new StmtError('SQL string contains more than one statement', 'SQL_MANY_STATEMENTS')
  return scanned[0]!
}

/** Checks a statement's text and arguments; throws StmtError like sqld does before running anything. */
export const prepareStmt = (sql: string, args: SqlValue[], namedArgs: NamedArg[]): Prepared => {
  const stmt = singleStatement(sql)
  return { stmt, bind: bindArgs(stmt, args, namedArgs) }
}

/** Leaves BUSY as is (to be retried); anything SQLite threw becomes a StmtError. */
const mapError = (e: unknown, atPrepare: boolean): unknown => {
  if (isRetryableBusy(e)) return e
  const error = toProtoError(e, atPrepare)
  return new StmtError(error.message, error.code)
}

/** One row of a small helper query (raw mode: an array of values). */
const queryRow = (conn: Conn, sql: string) => prepareCached(conn, sql).get() as SqlValue[]

const runOnce = (conn: Conn, prepared: Prepared, wantRows: boolean): StmtResult => {
  try {
    const result = runStatement(conn, prepared, wantRows)
    syncReadOnly(conn, prepared.stmt.beginsReadOnly)
    return result
  } catch (e) {
    syncReadOnly(conn, false)
    throw e
  }
}

const runStatement = (conn: Conn, prepared: Prepared, wantRows: boolean): StmtResult => {
  const { sql } = prepared.stmt
  const wasCached = conn.stmts.has(sql)
  let stmt
  try {
    stmt = prepareCached(conn, sql)
  } catch (e) {
    throw mapError(e, true)
  }
  if (prepared.stmt.touchesConnectionState) conn.reusable = false
  const started = performance.now()
  try {
    if (!stmt.reader) {
      const info = stmt.run(prepared.bind)
      // The binding reports the rowid as a number; ask again if it is too large for one.
      const rowid = Number.isSafeInteger(info.lastInsertRowid)
        ? info.lastInsertRowid
        : queryRow(conn, 'SELECT last_insert_rowid()')[0]
      return {
        cols: [],
        rows: [],
        affected_row_count: info.changes,
        last_insert_rowid: String(rowid),
        query_duration_ms: performance.now() - started,
      }
    }
    // RETURNING statements return rows and change rows. As in better-sqlite3, changes() counts
    // only if total_changes() moved, so a SELECT does not report the previous statement's count.
    const [before] = queryRow(conn, 'SELECT total_changes()')
    const rows = stmt.all(prepared.bind) as SqlValue[][]
    const [changes, after, rowid] = queryRow(conn, 'SELECT changes(), total_changes(), last_insert_rowid()')
    return {
      cols: stmt.columns().map((c) => ({ name: c.name, decltype: c.type })),
      rows: wantRows ? rows.map((row) => row.map(valueToProto)) : [],
      affected_row_count: after === before ? 0 : Number(changes),
      last_insert_rowid: String(rowid),
      query_duration_ms: performance.now() - started,
    }
  } catch (e) {
    if (isRetryableBusy(e)) throw e
    conn.stmts.delete(sql)
    // A cached statement re-prepares itself when the schema changed and then fails while running
    // (e.g. its table was dropped); report that as the prepare error a fresh statement gets.
    if (wasCached) {
      try {
        conn.raw.prepare(sql)
      } catch (prepareError) {
        throw mapError(prepareError, true)
      }
    }
    throw mapError(e, false)
  }
}

/** Retries `fn` while it fails with a retryable BUSY, for at most `lockTimeoutMs`. */
function* retryOnBusy<T>(fn: () => T, lockTimeoutMs: number): Busy<T> {
  let deadline: number | undefined
  for (;;) {
    try {
      return fn()
    } catch (e) {
      if (!isRetryableBusy(e)) throw e
      const now = Date.now()
      deadline ??= now + lockTimeoutMs
      if (now >= deadline) {
        throw new StmtError(
          `SQLite error: database is locked (waited ${lockTimeoutMs} ms for another connection's write transaction to end)`,
          'SQLITE_BUSY',
        )
      }
      yield deadline
    }
  }
}

/** Runs one statement; throws StmtError for anything the client should see as a statement error. */
export const executeStmt = (
  conn: Conn,
  prepared: Prepared,
  wantRows: boolean,
  lockTimeoutMs: number,
): Busy<StmtResult> => retryOnBusy(() => runOnce(conn, prepared, wantRows), lockTimeoutMs)

export type PreparedStep = { condition: BatchCond | undefined; prepared: Prepared; wantRows: boolean }

const evalCond = (cond: BatchCond, results: BatchResult, conn: Conn): boolean => {
  switch (cond.type) {
    case 'ok':
      return results.step_results[cond.step] != null
    case 'error':
      return results.step_errors[cond.step] != null
    case 'not':
      return !evalCond(cond.cond, results, conn)
    case 'and':
      return cond.conds.every((c) => evalCond(c, results, conn))
    case 'or':
      return cond.conds.some((c) => evalCond(c, results, conn))
    case 'is_autocommit':
      return !conn.raw.inTransaction
  }
}

export function* executeBatch(conn: Conn, steps: PreparedStep[], lockTimeoutMs: number): Busy<BatchResult> {
  const results: BatchResult = { step_results: [], step_errors: [] }
  for (const step of steps) {
    let result = null
    let error: ProtoError | null = null
    if (!step.condition || evalCond(step.condition, results, conn)) {
      try {
        result = yield* executeStmt(conn, step.prepared, step.wantRows, lockTimeoutMs)
      } catch (e) {
        if (!(e instanceof StmtError)) throw e
        error = { message: e.message, code: e.code }
      }
    }
    results.step_results.push(result)
    results.step_errors.push(error)
  }
  return results
}

/** Runs statements separated by semicolons, stopping at the first error (which it throws). */
export function* executeSequence(conn: Conn, sql: string, lockTimeoutMs: number): Busy<void> {
  for (const stmt of scanCached(sql)) {
    yield* executeStmt(conn, { stmt, bind: bindArgs(stmt, [], []) }, false, lockTimeoutMs)
  }
}

const describeOnce = (conn: Conn, sql: string): DescribeResult => {
  const scanned = singleStatement(sql)
  let cols
  let program: SqlValue[][] = []
  try {
    cols = conn.raw.prepare(scanned.sql).columns()
    if (!scanned.isExplain) program = conn.raw.prepare(`EXPLAIN ${scanned.sql}`).raw(true).all() as SqlValue[][]
  } catch (e) {
    throw mapError(e, true)
  }
  // sqlite3_stmt_readonly() is false exactly when the program opens a write transaction or
  // changes the journal mode or vacuums; the binding does not expose it, EXPLAIN shows it.
  const writes = program.some(
    ([, opcode, , p2]) =>
      (opcode === 'Transaction' && Number(p2) !== 0) || opcode === 'JournalMode' || opcode === 'Vacuum',
  )
  return {
    params: scanned.params.map((name) => ({ name })),
    cols: cols.map((c) => ({ name: c.name, decltype: c.type })),
    is_explain: scanned.isExplain,
    is_readonly: !writes,
  }
}

export const describe = (conn: Conn, sql: string, lockTimeoutMs: number): Busy<DescribeResult> =>
  retryOnBusy(() => describeOnce(conn, sql), lockTimeoutMs)
