/** Hrana `Error` structure. */
export type ProtoError = { message: string; code: string }

/**
 * The client broke the protocol (bad JSON shape, unknown sql_id, invalid baton ...). Answered as
 * HTTP 400 and, like sqld, ends the stream.
 */
export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly code = 'HRANA_PROTO_ERROR',
  ) {
    super(message)
  }
}

/** A statement could not run (bad SQL text, arguments, SQLite error): a per-request error result. */
export class StmtError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message)
  }
}

/** The server is shutting down while a request waited for a lock. */
export class ClosedError extends Error {}

// sqld reports the primary result code, and SQLITE_ERROR as SQLITE_UNKNOWN (rusqlite's naming).
const PRIMARY_CODES: Record<number, string> = {
  1: 'SQLITE_UNKNOWN',
  2: 'SQLITE_INTERNAL',
  3: 'SQLITE_PERM',
  4: 'SQLITE_ABORT',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  7: 'SQLITE_NOMEM',
  8: 'SQLITE_READONLY',
  9: 'SQLITE_INTERRUPT',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  12: 'SQLITE_NOTFOUND',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  15: 'SQLITE_PROTOCOL',
  17: 'SQLITE_SCHEMA',
  18: 'SQLITE_TOOBIG',
  19: 'SQLITE_CONSTRAINT',
  20: 'SQLITE_MISMATCH',
  21: 'SQLITE_MISUSE',
  22: 'SQLITE_NOLFS',
  23: 'SQLITE_AUTH',
  25: 'SQLITE_RANGE',
  26: 'SQLITE_NOTADB',
}

type SqliteLike = Error & { code: string; rawCode?: unknown }

const isSqliteError = (e: unknown): e is SqliteLike =>
  e instanceof Error && typeof (e as SqliteLike).code === 'string' && (e as SqliteLike).code.startsWith('SQLITE_')

/** The (extended) result code of an error thrown by `libsql`, if it is one. */
const resultCode = (e: SqliteLike): number | undefined => (typeof e.rawCode === 'number' ? e.rawCode : undefined)

/** Busy because another connection holds the write lock: worth retrying once it is released. */
export const isRetryableBusy = (e: unknown): boolean => {
  if (!isSqliteError(e)) return false
  const code = resultCode(e)
  // SQLITE_BUSY and SQLITE_BUSY_RECOVERY; not SQLITE_BUSY_SNAPSHOT, which no wait can fix.
  return code === undefined ? e.code === 'SQLITE_BUSY' : code === 5 || code === 261
}

/** Maps what `libsql` threw to the error sqld would report. `atPrepare`: SQLite rejected the text. */
export const toProtoError = (e: unknown, atPrepare: boolean): ProtoError => {
  if (e instanceof StmtError) return { message: e.message, code: e.code }
  if (!isSqliteError(e)) throw e
  const raw = resultCode(e)
  const primary = raw === undefined ? undefined : raw & 0xff
  if (atPrepare && (primary === undefined || primary === 1)) {
    return { message: `SQLite input error: ${e.message}`, code: 'SQL_INPUT_ERROR' }
  }
  const code =
    primary === undefined ? e.code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1') : (PRIMARY_CODES[primary] ?? 'SQLITE_UNKNOWN')
  return { message: `SQLite error: ${e.message}`, code }
}
