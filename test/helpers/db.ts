import { createClient } from '@libsql/client'

/** Direct reads of a test database, to check what was (and was not) stored. */
export const openDb = (url: string) => {
  const client = createClient({ url })
  return {
    all: async <T = Record<string, unknown>>(sql: string, args: unknown[] = []) =>
      (await client.execute({ sql, args: args as any })).rows as unknown as T[],
    /** Row counts of every table: equal before and after means a request changed nothing. */
    snapshot: async () => {
      const tables = (
        await client.execute(
          // The audit log records refused attempts too: history of who tried what, not state a refusal changed.
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'audit_log' ORDER BY name",
        )
      ).rows.map((r) => String(r.name))
      const counts: Record<string, unknown[]> = {}
      for (const table of tables)
        counts[table] = (await client.execute(`SELECT * FROM "${table}" ORDER BY rowid`)).rows.map((r) =>
          // A key's last use is bookkeeping any authenticated call may write (after the answer): not a change.
          JSON.stringify(table === 'api_keys' ? { ...r, last_used_at: undefined } : r),
        )
      return counts
    },
    close: () => client.close(),
  }
}
