import { createClient } from '@libsql/client'

/**
 * Tables a refused request may still write, as history rather than state: the audit log records
 * refused attempts too, and provider call counts and cron runs are flushed whenever they are due.
 */
export const BOOKKEEPING_TABLES = ['audit_log', 'provider_call_stats', 'cron_jobs']

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
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
      ).rows
        .map((r) => String(r.name))
        .filter((name) => !BOOKKEEPING_TABLES.includes(name))
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
