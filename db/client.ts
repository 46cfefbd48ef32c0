import { createClient, type Client } from '@libsql/client/web'
import { drizzle } from 'drizzle-orm/libsql/web'

/**
 * drizzle's `db.batch()` passes no transaction mode, so libSQL would run it as "deferred". Every
 * batch this service sends writes, so batches default to "write" (BEGIN IMMEDIATE): the lock is
 * taken up front instead of failing half-way on an upgrade.
 */
const batchesWrite = (client: Client): Client =>
  new Proxy(client, {
    get(target, prop) {
      if (prop === 'batch') {
        return (stmts: Parameters<Client['batch']>[0], mode: Parameters<Client['batch']>[1] = 'write') =>
          target.batch(stmts, mode)
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })

/** One client per request: Workers forbid reusing I/O objects across requests. */
export const createDb = (url: string, authToken?: string) =>
  drizzle({ client: batchesWrite(createClient({ url, authToken })) })

export type Db = ReturnType<typeof createDb>
