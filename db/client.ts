import { type Client, createClient, type InArgs, type InStatement, type TransactionMode } from '@libsql/client/web'
import { drizzle } from 'drizzle-orm/libsql/web'
import { hranaPipeline, type Pipeline, reachDatabase } from './hrana'

type BatchStatement = Parameters<Client['batch']>[0][number]
const sqlOf = (stmt: BatchStatement) => (typeof stmt === 'string' ? stmt : Array.isArray(stmt) ? stmt[0] : stmt.sql)
const isRead = (stmt: BatchStatement) => /^\s*select\b/i.test(sqlOf(stmt))

/**
 * drizzle's `db.batch()` passes no transaction mode, so libSQL would run it as "deferred". A batch
 * that writes defaults to "write" (BEGIN IMMEDIATE): the lock is taken up front instead of failing
 * half-way on an upgrade; one of SELECTs only is a "read" and takes no write lock.
 */
const modeOf = (stmts: BatchStatement[]): TransactionMode => (stmts.every(isRead) ? 'read' : 'write')

/**
 * Statements to run in the same transaction as every write (the request's audit entry, and audit
 * outcomes waiting to be written): appended last, so they never disturb what earlier statements of
 * the batch read, and their results are dropped. `returned` gets them back when the batch failed.
 */
export type WriteCompanion = { take: () => InStatement[]; returned: (stmts: InStatement[]) => void }

/** Runs `stmts` as one batch with the companion appended when they write; answers theirs only. */
const withCompanion = async <R>(
  stmts: InStatement[],
  mode: TransactionMode,
  companion: WriteCompanion | undefined,
  run: (stmts: InStatement[], mode: TransactionMode) => Promise<R[]>,
): Promise<R[]> => {
  const extra = !companion || stmts.every(isRead) ? [] : companion.take()
  if (extra.length === 0) return run(stmts, mode)
  try {
    return (await run([...stmts, ...extra], 'write')).slice(0, stmts.length)
  } catch (error) {
    companion!.returned(extra)
    throw error
  }
}

// @libsql/client lets a failure to reach the server through as the runtime's own error (a 500, found
// by the soak with libSQL stopped): it gets the lean executor's fetch, which makes it a LibsqlError.

/**
 * The library's client, made on first use: a request whose statements all go through the lean
 * pipeline never pays for it (createClient alone was a tenth of a hot request's CPU). Its own
 * batch method gets the default modes above. Plain delegating methods, not a Proxy: that would
 * bind a function on every property read.
 */
const lazyClient = (url: string, authToken?: string, companion?: WriteCompanion): Client => {
  let client: Client | undefined
  const real = () => {
    if (!client) {
      client = createClient({ url, authToken, fetch: reachDatabase })
      const batch = client.batch.bind(client)
      client.batch = (stmts, mode) => batch(stmts, mode ?? modeOf(stmts))
    }
    return client
  }
  const batch: Client['batch'] = (stmts, mode) =>
    withCompanion(stmts as InStatement[], mode ?? modeOf(stmts), companion, (all, m) => real().batch(all, m))
  return {
    // A write on its own becomes a batch with the companion; reads (and calls without one) go as they are.
    execute: (async (stmt: InStatement | string, args?: InArgs) => {
      const statement: InStatement = typeof stmt === 'string' ? { sql: stmt, args: args ?? [] } : stmt
      if (!companion || isRead(statement)) return real().execute(statement)
      return (await batch([statement]))[0]
    }) as Client['execute'],
    batch,
    migrate: (stmts) => real().migrate(stmts),
    transaction: ((mode?: TransactionMode) => real().transaction(mode)) as Client['transaction'],
    executeMultiple: (sql) => real().executeMultiple(sql),
    sync: () => real().sync(),
    close: () => client?.close(),
    reconnect: () => client?.reconnect(),
    get closed() {
      return client?.closed ?? false
    },
    protocol: 'http',
  }
}

/**
 * One client per request: Workers forbid reusing I/O objects across requests. `pipeline` is the
 * hot path's lean executor (db/hrana.ts), with the same default transaction modes. `companion`, when
 * given, joins every write's transaction (see WriteCompanion).
 */
export const createDb = (url: string, authToken?: string, companion?: WriteCompanion) => {
  const lean = hranaPipeline(url, authToken)
  const batch = (stmts: InStatement[], mode?: TransactionMode) =>
    withCompanion(stmts, mode ?? modeOf(stmts), companion, lean.batch)
  const pipeline: Pipeline = {
    execute: async (stmt) => (!companion || isRead(stmt) ? lean.execute(stmt) : (await batch([stmt]))[0]!),
    batch,
  }
  return Object.assign(drizzle({ client: lazyClient(url, authToken, companion) }), { pipeline })
}

export type Db = ReturnType<typeof createDb>
