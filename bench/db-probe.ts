import { createClient } from '@libsql/client/web'

/** Rows of a probe table; each call touches row (i % ROWS) + 1. */
export const PROBE_ROWS = 64

/**
 * The probe's statements, shared by the Node probe and the probe Worker in workerd (io-probe.ts),
 * so both sides send the same SQL. `table` is one of ours (a fixed identifier, never input).
 */
export const probeStatements = (table: string) => ({
  create: `CREATE TABLE IF NOT EXISTS ${table} (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, payload TEXT NOT NULL)`,
  insert: `INSERT OR IGNORE INTO ${table} (id, n, payload) VALUES (?, 0, ?)`,
  update: `UPDATE ${table} SET n = n + 1 WHERE id = ?`,
  select: `SELECT * FROM ${table} WHERE id = ?`,
})

/**
 * One DB round trip as the Worker makes them (Hrana over HTTP with @libsql/client/web), from Node:
 * a write batch of one UPDATE (BEGIN IMMEDIATE … COMMIT in one pipeline, like the gateway's
 * batches) and a SELECT by primary key, on `table` of the database at `dbUrl` (created and filled
 * with PROBE_ROWS rows of 600 bytes if it is not there yet).
 */
export const dbProbeAt = async (dbUrl: string, table: string) => {
  const sql = probeStatements(table)
  const client = createClient({ url: dbUrl })
  await client.batch(
    [
      sql.create,
      ...Array.from({ length: PROBE_ROWS }, (_, i) => ({ sql: sql.insert, args: [i + 1, 'x'.repeat(600)] })),
    ],
    'write',
  )
  return {
    update: async (i: number) => {
      await client.batch([{ sql: sql.update, args: [(i % PROBE_ROWS) + 1] }], 'write')
    },
    select: async (i: number) => {
      const rs = await client.execute({ sql: sql.select, args: [(i % PROBE_ROWS) + 1] })
      if (rs.rows.length !== 1) throw new Error('db probe: the row is missing')
    },
    close: () => client.close(),
  }
}

/**
 * The Node probe of the passes: the same libSQL server as the gateway, on a database of its own so
 * the gateway's stays untouched.
 */
export const startDbProbe = (serverUrl: string) => dbProbeAt(`${serverUrl}/bench_probe/`, 'probe')
