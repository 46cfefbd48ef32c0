import { createClient } from '@libsql/client/web'

const ROWS = 64

/**
 * One DB round trip as the Worker makes them (Hrana over HTTP with @libsql/client/web), from Node,
 * against the same libSQL server, on a database of its own so the gateway's stays untouched:
 * a write batch of one UPDATE (BEGIN IMMEDIATE … COMMIT in one pipeline, like the gateway's
 * batches) and a SELECT by primary key.
 */
export const startDbProbe = async (serverUrl: string) => {
  const client = createClient({ url: `${serverUrl}/bench_probe/` })
  await client.batch(
    [
      'CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, payload TEXT NOT NULL)',
      ...Array.from({ length: ROWS }, (_, i) => ({
        sql: 'INSERT OR IGNORE INTO probe (id, n, payload) VALUES (?, 0, ?)',
        args: [i + 1, 'x'.repeat(600)],
      })),
    ],
    'write',
  )
  return {
    update: async (i: number) => {
      await client.batch([{ sql: 'UPDATE probe SET n = n + 1 WHERE id = ?', args: [(i % ROWS) + 1] }], 'write')
    },
    select: async (i: number) => {
      const rs = await client.execute({ sql: 'SELECT * FROM probe WHERE id = ?', args: [(i % ROWS) + 1] })
      if (rs.rows.length !== 1) throw new Error('db probe: the row is missing')
    },
    close: () => client.close(),
  }
}
