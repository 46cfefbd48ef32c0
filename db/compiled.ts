import type { InArgs, InStatement } from '@libsql/client/web'
import { getTableColumns, is, Param, Placeholder, type SQL, type Table } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/libsql/web'
import { SQLiteAsyncDialect } from 'drizzle-orm/sqlite-core'

/**
 * Hot-path statements are written with drizzle (the schema stays the single source of truth) but
 * built once per isolate, with named placeholders, instead of on every request: building SQL is a
 * large share of a request's CPU time otherwise. `bind` fills the placeholders for one execution.
 */
const builder = drizzle.mock()
export type Builder = typeof builder

/** How each parameter is found at run time: a constant, or a named value (encoded by its column). */
type Slot = { value: unknown } | { name: string; encode?: (value: unknown) => unknown }
export type Compiled = { sql: string; slots: Slot[] }

const slotsOf = (params: unknown[]): Slot[] =>
  params.map((param) => {
    if (is(param, Placeholder)) return { name: param.name }
    if (is(param, Param) && is(param.value, Placeholder)) {
      const encoder = param.encoder as { mapToDriverValue?: (v: unknown) => unknown } | undefined
      return { name: (param.value as Placeholder).name, encode: encoder?.mapToDriverValue?.bind(encoder) }
    }
    return { value: param }
  })

/**
 * Built on first use, then kept: building every statement when the module loads would be a cold
 * start's work (the Worker's top level) for statements a request may never run.
 */
const builtOnFirstUse = (build: () => { sql: string; params: unknown[] }): Compiled => {
  let built: Compiled | undefined
  const get = () => {
    if (!built) {
      const { sql, params } = build()
      built = { sql, slots: slotsOf(params) }
    }
    return built
  }
  return {
    get sql() {
      return get().sql
    },
    get slots() {
      return get().slots
    },
  }
}

export const compile = (build: (db: Builder) => { toSQL: () => { sql: string; params: unknown[] } }): Compiled =>
  builtOnFirstUse(() => build(builder).toSQL())

const dialect = new SQLiteAsyncDialect()

/** The same for a hand-written `sql` statement (one the query builder cannot express). */
export const compileSql = (statement: SQL): Compiled => builtOnFirstUse(() => dialect.sqlToQuery(statement))

/** One execution's statement. Null stays SQL NULL (a JSON column's encoder would write "null"). */
export const bind = (statement: Compiled, values: Record<string, unknown> = {}): InStatement => ({
  sql: statement.sql,
  args: statement.slots.map((slot) => {
    if ('value' in slot) return slot.value
    if (!(slot.name in values)) throw new Error(`no value for placeholder "${slot.name}"`)
    const value = values[slot.name]
    return value === null || value === undefined ? null : slot.encode ? slot.encode(value) : value
  }) as InArgs,
})

/** Maps raw result rows (column names) to the table's typed objects, with each column's own decoding. */
export const rowMapper = <T extends Table>(table: T) => {
  const columns = Object.entries(getTableColumns(table)).map(
    ([property, column]) => [property, column.name, column] as const,
  )
  return (row: Record<string, unknown>): T['$inferSelect'] => {
    const out: Record<string, unknown> = {}
    for (const [property, name, column] of columns) {
      const value = row[name]
      out[property] = value === null || value === undefined ? null : column.mapFromDriverValue(value)
    }
    return out as T['$inferSelect']
  }
}
