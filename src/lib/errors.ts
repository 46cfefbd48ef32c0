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
