import { createClient, type Client } from '@libsql/client/web'
import { drizzle } from 'drizzle-orm/libsql/web'

/**
 * drizzle's `db.batch()` passes no transaction mode, so libSQL would run it as "deferred". Every
 * batch this service sends writes, so batches default to "write" (BEGIN IMMEDIATE): the lock is
 * taken up front instead of failing half-way on an upgrade. (The client's own method is replaced,
 * not wrapped in a Proxy: that would bind a function on every property read of the hot path.)
 */
const batchesWrite = (client: Client): Client => {
  const batch = client.batch.bind(client)
  client.batch = (stmts, mode = 'write') => batch(stmts, mode)
  return client
}

/** One client per request: Workers forbid reusing I/O objects across requests. */
export const createDb = (url: string, authToken?: string) =>
  drizzle({ client: batchesWrite(createClient({ url, authToken })) })

export type Db = ReturnType<typeof createDb>
