import { type Client, createClient, type InArgs, type InStatement, type TransactionMode } from '@libsql/client/web'
import { drizzle } from 'drizzle-orm/libsql/web'
import { hranaPipeline, type Pipeline } from './hrana'

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
 * The library's client, made on first use: a request whose statements all go through the lean
 * pipeline never pays for it (createClient alone was a tenth of a hot request's CPU). Its own
 * batch method gets the default modes above. Plain delegating methods, not a Proxy: that would
 * bind a function on every property read.
 */
const lazyClient = (url: string, authToken?: string): Client => {
  let client: Client | undefined
  const real = () => {
    if (!client) {
      client = createClient({ url, authToken })
      const batch = client.batch.bind(client)
      client.batch = (stmts, mode) => batch(stmts, mode ?? modeOf(stmts))
    }
    return client
  }
  return {
    execute: ((stmt: InStatement | string, args?: InArgs) =>
      typeof stmt === 'string' ? real().execute(stmt, args) : real().execute(stmt)) as Client['execute'],
    batch: (stmts, mode) => real().batch(stmts, mode),
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
 * hot path's lean executor (db/hrana.ts), with the same default transaction modes.
 */
export const createDb = (url: string, authToken?: string) => {
  const lean = hranaPipeline(url, authToken)
  const pipeline: Pipeline = {
    execute: lean.execute,
    batch: (stmts: InStatement[], mode?: TransactionMode) => lean.batch(stmts, mode ?? modeOf(stmts)),
  }
  return Object.assign(drizzle({ client: lazyClient(url, authToken) }), { pipeline })
}

export type Db = ReturnType<typeof createDb>
