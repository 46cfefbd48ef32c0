import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Client, createClient, type InStatement, LibsqlBatchError, LibsqlError } from '@libsql/client/web'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb } from '../../db/client'
import { batchSteps, hranaPipeline, type Pipeline } from '../../db/hrana'
import { type LibsqlServer, startLibsqlServer } from '../../sandbox/libsql-server/server'
import { isDatabaseError } from '../../src/lib/errors'

// Conformance of the hot path's lean executor (db/hrana.ts) with @libsql/client, which it replaces
// on that path: the same statements through both, against the real libSQL server, give the same
// rows, values, counts and errors, in one pipeline request each.

const tmpRoot = mkdtempSync(join(tmpdir(), 'db-pipeline-test-'))
let server: LibsqlServer
let guarded: LibsqlServer
let count = 0
const fresh = (s: LibsqlServer = server) => `${s.url}/pipe${++count}/`

beforeAll(async () => {
  server = await startLibsqlServer({ port: 0, dataDir: join(tmpRoot, 'open') })
  guarded = await startLibsqlServer({ port: 0, dataDir: join(tmpRoot, 'guarded'), authToken: 'sesame' })
})
afterAll(async () => {
  await server?.close()
  await guarded?.close()
  rmSync(tmpRoot, { recursive: true, force: true })
})

/** Both executors on one fresh database, with a table of every storage class. */
const both = async () => {
  const url = fresh()
  const library = createClient({ url })
  const lean = hranaPipeline(url)
  await library.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB, n)')
  return { url, library, lean }
}
/** A library row as a plain object of its named columns (what the lean executor answers). */
const named = (row: Record<string, unknown>) => Object.fromEntries(Object.entries(row))
const requestsOf = async (url: string, run: () => Promise<unknown>) => {
  const database = new URL(url).pathname.split('/')[1]!
  const served = () => server.stats().databases[database]?.pipeline_requests ?? 0
  const before = served()
  await run()
  return served() - before
}
const failureOf = async (run: () => Promise<unknown>) => {
  try {
    await run()
  } catch (error) {
    return error as LibsqlError & { statementIndex?: number }
  }
  throw new Error('expected a failure')
}

describe('lean Hrana pipeline vs @libsql/client', () => {
  it('encodes every argument type and decodes every value type the same way', async () => {
    const { library, lean } = await both()
    const rows: InStatement[] = [
      {
        sql: 'INSERT INTO t (id, i, r, s, b, n) VALUES (?, ?, ?, ?, ?, ?)',
        args: [1, 42, 1.5, 'héllo "x"\n', new Uint8Array([0, 1, 254, 255]), null],
      },
      {
        sql: 'INSERT INTO t (id, i, r, s, b, n) VALUES (?, ?, ?, ?, ?, ?)',
        args: [2n, 9007199254740991n, -0.25, '', new Uint8Array(0).buffer, true],
      },
      {
        sql: 'INSERT INTO t (id, i, r, s, b, n) VALUES (:id, :i, :r, :s, :b, :n)',
        args: { id: 3, i: false, r: new Date(1_700_000_000_000), s: 'x'.repeat(10_000), b: null, n: 7 },
      },
    ]
    for (const row of rows) await lean.execute(row)
    const select = 'SELECT id, i, r, s, b, n, typeof(i) AS ti, typeof(b) AS tb, typeof(n) AS tn FROM t ORDER BY id'
    const expected = await library.execute(select)
    const actual = await lean.execute(select)
    expect(actual.columns).toEqual(expected.columns)
    expect(actual.rows).toEqual(expected.rows.map(named))
    expect(actual.rows[0]!.b).toBeInstanceOf(ArrayBuffer)
    expect([...new Uint8Array(actual.rows[0]!.b as ArrayBuffer)]).toEqual([0, 1, 254, 255])
    expect(actual.rows.map((r) => [r.ti, r.tb, r.tn])).toEqual([
      ['integer', 'blob', 'null'],
      ['integer', 'blob', 'integer'],
      ['integer', 'null', 'real'],
    ])
    // (JS numbers travel as floats, as the library sends them: 7 in an untyped column is a REAL.)
  })

  it('answers affected rows and the last rowid like the library', async () => {
    const { library, lean } = await both()
    const insert = { sql: 'INSERT INTO t (i) VALUES (?), (?)', args: [1, 2] }
    const viaLibrary = await library.execute(insert)
    const viaLean = await lean.execute(insert)
    expect(viaLean.rowsAffected).toBe(viaLibrary.rowsAffected)
    expect(viaLean.lastInsertRowid).toBe(viaLibrary.lastInsertRowid! + 2n)
    const update = await lean.execute({ sql: 'UPDATE t SET s = ? WHERE i = ? RETURNING id, s', args: ['y', 1] })
    expect(update.rowsAffected).toBe(2)
    expect(update.rows).toEqual([
      { id: 1, s: 'y' },
      { id: 3, s: 'y' },
    ])
  })

  it('keeps the first of two columns with one name, as the library does', async () => {
    const { library, lean } = await both()
    const sql = "SELECT 1 AS a, 2 AS a, 'z' AS b"
    expect((await lean.execute(sql)).rows).toEqual((await library.execute(sql)).rows.map(named))
    expect((await lean.execute(sql)).rows[0]).toEqual({ a: 1, b: 'z' })
    const odd = await lean.execute('SELECT 1 AS toString, 2 AS __proto__, 3 AS constructor')
    expect(Object.entries(odd.rows[0]!)).toEqual([
      ['toString', 1],
      ['__proto__', 2],
      ['constructor', 3],
    ])
  })

  it('refuses what the library refuses: integers beyond 2^53, non-finite numbers, out-of-range bigints', async () => {
    const { library, lean } = await both()
    const big = 'SELECT 9007199254740993 AS v'
    await expect(library.execute(big)).rejects.toThrow(RangeError)
    await expect(lean.execute(big)).rejects.toThrow(RangeError)
    await expect(lean.execute({ sql: 'SELECT ?', args: [Number.NaN] })).rejects.toThrow(RangeError)
    await expect(lean.execute({ sql: 'SELECT ?', args: [2n ** 63n] })).rejects.toThrow(RangeError)
  })

  it('sends the steps the library sends for a batch', () => {
    const steps = batchSteps(['SELECT 1', { sql: 'SELECT ?', args: [2] }], 'write')
    expect(steps.map((s) => [s.stmt.sql, s.condition])).toEqual([
      ['BEGIN IMMEDIATE', undefined],
      ['SELECT 1', { type: 'ok', step: 0 }],
      ['SELECT ?', { type: 'ok', step: 1 }],
      ['COMMIT', { type: 'ok', step: 2 }],
      ['ROLLBACK', { type: 'not', cond: { type: 'ok', step: 3 } }],
    ])
    expect(batchSteps([], 'read')[0]!.stmt.sql).toBe('BEGIN TRANSACTION READONLY')
  })

  it('runs a batch as one transaction in one request, with each statement seeing the one before', async () => {
    const { url, library, lean } = await both()
    let results: Awaited<ReturnType<Pipeline['batch']>> = []
    const requests = await requestsOf(url, async () => {
      results = await lean.batch(
        [
          { sql: 'INSERT INTO t (id, s) VALUES (?, ?)', args: [10, 'a'] },
          { sql: 'UPDATE t SET s = s || ? WHERE id = ? RETURNING s', args: ['b', 10] },
          'SELECT count(*) AS n FROM t',
        ],
        'write',
      )
    })
    expect(requests).toBe(1)
    expect(results.map((r) => r.rows)).toEqual([[], [{ s: 'ab' }], [{ n: 1 }]])
    expect(results.map((r) => r.rowsAffected)).toEqual([1, 1, 0])
    expect((await library.execute('SELECT s FROM t')).rows.map(named)).toEqual([{ s: 'ab' }])
    expect(await requestsOf(url, () => lean.execute('SELECT 1'))).toBe(1)
  })

  it('fails a batch like the library: the failing statement named, nothing of it kept', async () => {
    const { library, lean } = await both()
    await library.execute("INSERT INTO t (id, s) VALUES (1, 'kept')")
    const batch: InStatement[] = [
      "UPDATE t SET s = 'changed' WHERE id = 1",
      "INSERT INTO t (id, s) VALUES (1, 'duplicate')",
      "UPDATE t SET s = 'never' WHERE id = 1",
    ]
    const expected = await failureOf(() => library.batch(batch, 'write'))
    const actual = await failureOf(() => lean.batch(batch, 'write'))
    expect(actual).toBeInstanceOf(LibsqlBatchError)
    expect(expected).toBeInstanceOf(LibsqlBatchError)
    expect(actual.statementIndex).toBe(expected.statementIndex)
    expect(actual.statementIndex).toBe(1)
    expect(actual.code).toBe(expected.code)
    expect(actual.message).toBe(expected.message)
    expect(isDatabaseError(actual)).toBe(true)
    expect((await library.execute('SELECT s FROM t')).rows.map(named)).toEqual([{ s: 'kept' }])
  })

  it('refuses writes in a read batch, as the library does', async () => {
    const { library, lean } = await both()
    const batch = ["INSERT INTO t (s) VALUES ('x')"]
    const expected = await failureOf(() => library.batch(batch, 'read'))
    const actual = await failureOf(() => lean.batch(batch, 'read'))
    expect(actual.code).toBe(expected.code)
    expect((await library.execute('SELECT count(*) AS n FROM t')).rows[0]!.n).toBe(0)
  })

  it('fails a statement outside a batch with the library error and code', async () => {
    const { library, lean } = await both()
    const expected = await failureOf(() => library.execute('SELECT * FROM missing'))
    const actual = await failureOf(() => lean.execute('SELECT * FROM missing'))
    expect(actual).toBeInstanceOf(LibsqlError)
    expect(actual.code).toBe(expected.code)
    expect(actual.message).toBe(expected.message)
  })

  it('sends the auth token, and reports a refused one as a database error', async () => {
    const url = fresh(guarded)
    await expect(hranaPipeline(url, 'sesame').execute('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
    const expected = await failureOf(() => createClient({ url, authToken: 'wrong' }).execute('SELECT 1'))
    const actual = await failureOf(() => hranaPipeline(url, 'wrong').execute('SELECT 1'))
    expect(actual).toBeInstanceOf(LibsqlError)
    expect(actual.code).toBe(expected.code)
    expect(actual.message).toBe(expected.message)
  })

  it('takes the URL forms createClient takes (libsql: with ?tls=0) and refuses the ones it refuses', async () => {
    const url = fresh().replace('http://', 'libsql://').replace(/\/$/, '/?tls=0')
    await expect(hranaPipeline(url).execute('SELECT 2 AS two')).resolves.toMatchObject({ rows: [{ two: 2 }] })
    expect(() => hranaPipeline('file:local.db')).toThrow(LibsqlError)
    expect(() => createClient({ url: 'file:local.db' })).toThrow(LibsqlError)
  })

  it('turns an unreachable database or a broken answer into a database error (503), not a crash (500)', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const unreachable = await failureOf(() => hranaPipeline(`http://127.0.0.1:${port}/`).execute('SELECT 1'))
    expect(isDatabaseError(unreachable)).toBe(true)

    const liar = createServer((req, res) => {
      res.writeHead(req.url?.includes('html') ? 502 : 200, {
        'content-type': req.url?.includes('html') ? 'text/html' : 'application/json',
      })
      res.end(
        req.url?.includes('short')
          ? '{"results":[]}'
          : req.url?.includes('html')
            ? '<h1>bad gateway</h1>'
            : '{not json',
      )
    })
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`
    try {
      for (const path of ['/garbled/', '/short/', '/html/']) {
        const error = await failureOf(() => hranaPipeline(`${base}${path}`).batch(['SELECT 1'], 'read'))
        expect(isDatabaseError(error), path).toBe(true)
      }
      expect((await failureOf(() => hranaPipeline(`${base}/html/`).execute('SELECT 1'))).message).toBe(
        'SERVER_ERROR: Server returned HTTP status 502',
      )
    } finally {
      await new Promise((resolve) => liar.close(resolve))
    }
  })

  it("is what createDb's `pipeline` uses, with the default modes: SELECT-only batches read, others write", async () => {
    const url = fresh()
    const db = createDb(url)
    await db.pipeline.execute('CREATE TABLE k (v)')
    await db.pipeline.batch(["INSERT INTO k VALUES ('w')"])
    // A read batch takes no write lock: it runs while another connection holds one.
    const holder: Client = createClient({ url })
    const tx = await holder.transaction('write')
    try {
      await tx.execute("INSERT INTO k VALUES ('held')")
      await expect(db.pipeline.batch(['SELECT v FROM k'])).resolves.toMatchObject([{ rows: [{ v: 'w' }] }])
    } finally {
      await tx.rollback()
      holder.close()
    }
    // drizzle, behind the same Db, goes through the library on first use.
    expect(await db.all<{ v: string }>('SELECT v FROM k')).toEqual([{ v: 'w' }])
  })
})
