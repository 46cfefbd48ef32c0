import { createClient, type Client } from '@libsql/client/web'
import { drizzle } from 'drizzle-orm/libsql/web'

type BatchStatement = Parameters<Client['batch']>[0][number]
const sqlOf = (stmt: BatchStatement) => (typeof stmt === 'string' ? stmt : Array.isArray(stmt) ? stmt[0] : stmt.sql)
const isRead = (stmt: BatchStatement) => /^\s*select\b/i.test(sqlOf(stmt))

/**
 * drizzle's `db.batch()` passes no transaction mode, so libSQL would run it as "deferred". A batch
 * that writes defaults to "write" (BEGIN IMMEDIATE): the lock is taken up front instead of failing
 * half-way on an upgrade; one of SELECTs only is a "read" and takes no write lock. (The client's own
 * method is replaced, not wrapped in a Proxy: that would bind a function on every property read.)
 */
const batchesWrite = (client: Client): Client => {
  const batch = client.batch.bind(client)
  client.batch = (stmts, mode) => batch(stmts, mode ?? (stmts.every(isRead) ? 'read' : 'write'))
  return client
}

/** One client per request: Workers forbid reusing I/O objects across requests. */
export const createDb = (url: string, authToken?: string) =>
  drizzle({ client: batchesWrite(createClient({ url, authToken })) })

export type Db = ReturnType<typeof createDb>
