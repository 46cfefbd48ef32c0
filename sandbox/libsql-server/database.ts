import Database from 'libsql'
import { ClosedError } from './errors'

/** One SQLite connection (a `libsql` handle) with its prepared-statement cache. */
export type Conn = {
  raw: Database.Database
  stmts: Map<string, Database.Statement>
  /** False once a statement may have changed per-connection state (PRAGMA, ATTACH, TEMP ...). */
  reusable: boolean
  /** `PRAGMA query_only` is on for a read-only transaction. */
  queryOnly: boolean
}

/** A database file and the connections open on it. */
export type DbHandle = {
  name: string
  /** A connection from the pool (or a new one) for a new stream. */
  acquire: () => Conn
  /** Gives back a stream's connection, rolling back what it left open. */
  release: (conn: Conn) => void
  /**
   * Resolves when a connection of this database may have released its write lock (or at the
   * deadline, or after a short poll for locks held outside this process); rejects on close.
   */
  waitForUnlock: (deadline: number) => Promise<void>
  /** Wakes every waiter: called when a stream closes or a request ends outside a transaction. */
  notifyUnlock: () => void
  close: () => void
}

const MAX_IDLE = 4
const MAX_CACHED_STMTS = 128
const POLL_MS = 100

const openConn = (file: string): Conn => {
  const raw = new Database(file)
  raw.defaultSafeIntegers(true)
  // WAL is already durable against corruption with NORMAL; FULL only adds an fsync per commit.
  raw.exec('PRAGMA synchronous=NORMAL')
  return { raw, stmts: new Map(), reusable: true, queryOnly: false }
}

/**
 * libSQL's `BEGIN TRANSACTION READONLY` (the client's "read" mode) is plain BEGIN to the engine;
 * query_only makes writes fail with SQLITE_READONLY until the transaction ends.
 */
export const syncReadOnly = (conn: Conn, begins: boolean) => {
  const wanted = begins || (conn.queryOnly && conn.raw.inTransaction)
  if (wanted === conn.queryOnly) return
  conn.raw.exec(`PRAGMA query_only = ${wanted ? 'ON' : 'OFF'}`)
  conn.queryOnly = wanted
}

/** Prepares through the connection's LRU cache; row-returning statements come back in raw mode. */
export const prepareCached = (conn: Conn, sql: string): Database.Statement => {
  const cached = conn.stmts.get(sql)
  if (cached) {
    conn.stmts.delete(sql)
    conn.stmts.set(sql, cached)
    return cached
  }
  const stmt = conn.raw.prepare(sql)
  if (stmt.reader) stmt.raw(true)
  conn.stmts.set(sql, stmt)
  if (conn.stmts.size > MAX_CACHED_STMTS) conn.stmts.delete(conn.stmts.keys().next().value!)
  return stmt
}

type Waiter = { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

export const openDbHandle = (name: string, file: string): DbHandle => {
  const all = new Set<Conn>()
  const idle: Conn[] = []
  const waiters = new Set<Waiter>()
  let closed = false

  const first = openConn(file)
  first.raw.exec('PRAGMA journal_mode=WAL')
  all.add(first)
  idle.push(first)

  const dispose = (conn: Conn) => {
    all.delete(conn)
    try {
      conn.raw.close()
    } catch {
      // already unusable; nothing else to free
    }
  }

  const acquire = (): Conn => {
    if (closed) throw new ClosedError('The server is closing')
    const conn = idle.pop() ?? openConn(file)
    all.add(conn)
    return conn
  }

  const release = (conn: Conn) => {
    if (closed || !all.has(conn)) return
    try {
      if (conn.raw.inTransaction) conn.raw.exec('ROLLBACK')
      syncReadOnly(conn, false)
    } catch {
      conn.reusable = false
    }
    if (conn.reusable && !conn.raw.inTransaction && idle.length < MAX_IDLE) idle.push(conn)
    else dispose(conn)
  }

  const waitForUnlock = (deadline: number) =>
    new Promise<void>((resolve, reject) => {
      if (closed) return reject(new ClosedError('The server is closing'))
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(
          () => {
            waiters.delete(waiter)
            resolve()
          },
          Math.max(0, Math.min(deadline - Date.now(), POLL_MS)),
        ),
      }
      waiters.add(waiter)
    })

  const notifyUnlock = () => {
    if (waiters.size === 0) return
    const woken = [...waiters]
    waiters.clear()
    for (const w of woken) {
      clearTimeout(w.timer)
      w.resolve()
    }
  }

  const close = () => {
    if (closed) return
    closed = true
    for (const w of waiters) {
      clearTimeout(w.timer)
      w.reject(new ClosedError('The server is closing'))
    }
    waiters.clear()
    idle.length = 0
    for (const conn of [...all]) dispose(conn)
  }

  return { name, acquire, release, waitForUnlock, notifyUnlock, close }
}
