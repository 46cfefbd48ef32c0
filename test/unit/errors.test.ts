import { LibsqlError } from '@libsql/client/web'
import { DrizzleQueryError } from 'drizzle-orm'
import { describe, expect, it } from 'vitest'
import { describeError, isDatabaseError } from '../../src/lib/errors'

describe('errors as logs show them', () => {
  const libsql = new LibsqlError('no such table: api_keys', 'SQLITE_ERROR')
  const query = new DrizzleQueryError('select "id" from "api_keys" where "hash" = ?', ['4f2a-secret-hash'], libsql)

  it('drop the statement and parameters drizzle puts in its message, keeping the cause', () => {
    expect(query.message).toContain('4f2a-secret-hash')
    const described = describeError(query)
    expect(described).toBe('LibsqlError: SQLITE_ERROR: no such table: api_keys')
    expect(described).not.toMatch(/select|4f2a/)
  })

  it('say only that a query failed when drizzle has no error cause', () => {
    expect(describeError(new DrizzleQueryError('update t set x = ?', ['secret'], undefined))).toBe(
      'DrizzleQueryError: the query failed',
    )
  })

  it('pass other errors and values through', () => {
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad')
    expect(describeError('plain')).toBe('plain')
  })

  it('recognise database failures however deeply they are wrapped', () => {
    expect(isDatabaseError(query)).toBe(true)
    expect(isDatabaseError(new Error('outer', { cause: libsql }))).toBe(true)
    expect(isDatabaseError(new Error('not the database'))).toBe(false)
  })
})
