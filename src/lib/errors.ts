import { LibsqlError } from '@libsql/client/web'
import { DrizzleQueryError } from 'drizzle-orm'

/** Errors of the database client (drizzle wraps them in `cause`): the database, not the request, failed. */
export const isDatabaseError = (error: unknown): boolean => {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (e instanceof LibsqlError || e instanceof DrizzleQueryError) return true
  }
  return false
}

/**
 * A foreign key a write relied on is gone: its row was deleted between the request's read and its
 * write. sqld and the local server answer SQLITE_CONSTRAINT with SQLite's own message; the extended
 * code, where a server sends it, says the same.
 */
export const isForeignKeyViolation = (error: unknown): boolean => {
  for (let e = error; e instanceof Error; e = e.cause) {
    if (
      e instanceof LibsqlError &&
      (e.extendedCode === 'SQLITE_CONSTRAINT_FOREIGNKEY' ||
        (e.code.startsWith('SQLITE_CONSTRAINT') && e.message.includes('FOREIGN KEY constraint failed')))
    ) {
      return true
    }
  }
  return false
}

/**
 * An error as the logs may show it: name and message, without the statement and parameters drizzle
 * writes into its own message (they can hold partner data, key hashes or sealed secrets).
 */
export const describeError = (error: unknown): string => {
  let e = error
  while (e instanceof DrizzleQueryError) {
    if (!(e.cause instanceof Error)) return 'DrizzleQueryError: the query failed'
    e = e.cause
  }
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}
