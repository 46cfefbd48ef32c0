import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient as createNodeClient, LibsqlError as NodeLibsqlError } from '@libsql/client'
import { createClient as createWebClient, LibsqlError as WebLibsqlError } from '@libsql/client/web'
import { eq, sql } from 'drizzle-orm'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { drizzle } from 'drizzle-orm/libsql/web'
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LibsqlServer, startLibsqlServer } from '../../sandbox/libsql-server/server'
import { scanSql } from '../../sandbox/libsql-server/sql-text'

const tmpRoot = mkdtempSync(join(tmpdir(), 'libsql-server-test-'))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let server: LibsqlServer
let dbCount = 0
/** Every test gets its own database on the shared server, as the project's test files do. */
const freshDb = () => `db${++dbCount}`
const dbUrl = (name: string, s: LibsqlServer = server) => `${s.url}/${name}/`

type Raw = { status: number; body: any; text: string }
const post = async (url: string, body: unknown, headers: Record<string, string> = {}): Promise<Raw> => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: res.status, body: parsed, text }
}
const int = (value: bigint | number) => ({ type: 'integer', value: String(value) })
const textValue = (value: string) => ({ type: 'text', value })
const exec = (sqlText: string, args: unknown[] = []) => ({ type: 'execute', stmt: { sql: sqlText, args } })

beforeAll(async () => {
  server = await startLibsqlServer({ port: 0, dataDir: join(tmpRoot, 'shared') })
})

afterAll(async () => {
  await server?.close()
  rmSync(tmpRoot, { recursive: true, force: true })
})

describe('sql text scanner', () => {
  it('splits statements on top-level semicolons only', () => {
    const sqlText = `
      CREATE TABLE "a;b" (x TEXT DEFAULT 'y;z'); -- a comment; with a semicolon
      /* block; comment */ INSERT INTO [a;b] VALUES ('it''s; fine');;
      CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN
        INSERT INTO y VALUES (CASE WHEN new.a THEN 1 END); DELETE FROM z;
      END;
      SELECT \`weird;name\` FROM q`
    const statements = scanSql(sqlText)
    expect(statements.map((s) => s.sql)).toEqual([
      `CREATE TABLE "a;b" (x TEXT DEFAULT 'y;z')`,
      `-- a comment; with a semicolon\n      /* block; comment */ INSERT INTO [a;b] VALUES ('it''s; fine')`,
      `CREATE TEMP TRIGGER t AFTER INSERT ON x BEGIN\n        INSERT INTO y VALUES (CASE WHEN new.a THEN 1 END); DELETE FROM z;\n      END`,
      'SELECT `weird;name` FROM q',
    ])
    expect(statements.map((s) => s.touchesConnectionState)).toEqual([false, false, true, false])
    expect(scanSql(' ; -- nothing\n /* here */ ;')).toEqual([])
  })

  it('numbers parameters the way SQLite does', () => {
    const [stmt] = scanSql(`SELECT ?, :a, ?5, :a, ?, $b::c(d), @e, ':not', "?not" -- ?no`)
    expect(stmt!.params).toEqual([null, ':a', null, null, '?5', null, '$b::c(d)', '@e'])
    expect(scanSql('EXPLAIN SELECT 1')[0]!.isExplain).toBe(true)
    expect(scanSql('PRAGMA foreign_keys = off')[0]!.touchesConnectionState).toBe(true)
    expect(scanSql('BEGIN TRANSACTION READONLY')[0]!.beginsReadOnly).toBe(true)
    expect(scanSql('BEGIN IMMEDIATE')[0]!.beginsReadOnly).toBe(false)
  })
})

describe.each([
  ['@libsql/client/web', createWebClient, WebLibsqlError],
  ['@libsql/client (node)', createNodeClient, NodeLibsqlError],
] as const)('%s against the server', (_name, createClient, LibsqlError) => {
  it('executes with positional and named arguments', async () => {
    const c = createClient({ url: dbUrl(freshDb()) })
    await c.execute('CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)')
    const inserted = await c.execute({ sql: 'INSERT INTO people (name, age) VALUES (?, ?)', args: ['ann', 31] })
    expect(inserted.rowsAffected).toBe(1)
    expect(inserted.lastInsertRowid).toBe(1n)
    await c.execute({ sql: 'INSERT INTO people (name, age) VALUES (:name, $age)', args: { name: 'bob', $age: 42 } })
    await c.execute({ sql: 'INSERT INTO people (name, age) VALUES (@name, ?2)', args: { '@name': 'cy' } }).then(
      () => expect.unreachable(),
      (e) => expect(e).toMatchObject({ code: 'ARGS_INVALID' }),
    )
    const rs = await c.execute({ sql: 'SELECT name, age FROM people WHERE age > ? ORDER BY id', args: [30] })
    expect(rs.columns).toEqual(['name', 'age'])
    expect(rs.columnTypes).toEqual(['TEXT', 'INTEGER'])
    expect(rs.rows.map((r) => [r.name, r.age])).toEqual([
      ['ann', 31],
      ['bob', 42],
    ])
  })

  it('round-trips every value type', async () => {
    const c = createClient({ url: dbUrl(freshDb()), intMode: 'bigint' })
    await c.execute('CREATE TABLE v (i INTEGER, f REAL, t TEXT, b BLOB, n, any_number)')
    const big = 2n ** 62n + 12_345n
    const blob = new Uint8Array([0, 1, 2, 250, 255])
    const unicode = 'héllo ✓ 🎉 — 日本語'
    await c.execute({ sql: 'INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)', args: [big, 1.25, unicode, blob, null, 3] })
    const rs = await c.execute(
      'SELECT i, f, t, b, n, any_number, typeof(i), typeof(f), typeof(t), typeof(b), typeof(n), typeof(any_number) FROM v',
    )
    const row = rs.rows[0]!
    expect(row.i).toBe(big)
    expect(row.f).toBe(1.25)
    expect(row.t).toBe(unicode)
    expect(new Uint8Array(row.b as ArrayBuffer)).toEqual(blob)
    expect(row.n).toBeNull()
    // Like sqld: a JS number travels as a float, a bigint as an integer.
    expect(row.any_number).toBe(3)
    expect([row[6], row[7], row[8], row[9], row[10], row[11]]).toEqual([
      'integer',
      'real',
      'text',
      'blob',
      'null',
      'real',
    ])

    const limits = await c.execute({
      sql: 'SELECT ? AS lo, ? AS hi, ? AS tiny, ? AS empty_text, ? AS empty_blob, -0.5e-300 AS small',
      args: [-(2n ** 63n), 2n ** 63n - 1n, 1n, '', new Uint8Array()],
    })
    expect(limits.rows[0]!.lo).toBe(-(2n ** 63n))
    expect(limits.rows[0]!.hi).toBe(2n ** 63n - 1n)
    expect(limits.rows[0]!.tiny).toBe(1n)
    expect(limits.rows[0]!.empty_text).toBe('')
    expect(new Uint8Array(limits.rows[0]!.empty_blob as ArrayBuffer)).toEqual(new Uint8Array())
    expect(limits.rows[0]!.small).toBe(-0.5e-300)
  })

  it('returns the rows of RETURNING statements', async () => {
    const c = createClient({ url: dbUrl(freshDb()) })
    await c.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER DEFAULT 1)')
    const ins = await c.execute({
      sql: 'INSERT INTO items (name) VALUES (?), (?) RETURNING id, name, qty',
      args: ['a', 'b'],
    })
    expect(ins.rows.map((r) => ({ ...r }))).toEqual([
      { id: 1, name: 'a', qty: 1 },
      { id: 2, name: 'b', qty: 1 },
    ])
    expect(ins.rowsAffected).toBe(2)
    const upd = await c.execute('UPDATE items SET qty = qty + 1 RETURNING id, qty')
    expect(upd.rows.map((r) => r.qty)).toEqual([2, 2])
    expect(upd.rowsAffected).toBe(2)
    const sel = await c.execute('SELECT count(*) AS n FROM items')
    expect(sel.rowsAffected).toBe(0)
    const del = await c.execute({ sql: 'DELETE FROM items WHERE id = ? RETURNING name', args: [1] })
    expect(del.rows[0]!.name).toBe('a')
  })

  it('runs a write batch atomically', async () => {
    const c = createClient({ url: dbUrl(freshDb()) })
    await c.execute('CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE)')
    const ok = await c.batch(
      [
        { sql: 'INSERT INTO u (name) VALUES (?)', args: ['a'] },
        { sql: 'INSERT INTO u (name) VALUES (?) RETURNING id', args: ['b'] },
        'SELECT count(*) AS n FROM u',
      ],
      'write',
    )
    expect(ok.map((r) => r.rowsAffected)).toEqual([1, 1, 0])
    expect(ok[1]!.rows[0]!.id).toBe(2)
    expect(ok[2]!.rows[0]!.n).toBe(2)

    const failing = c.batch(
      [
        { sql: 'INSERT INTO u (name) VALUES (?)', args: ['c'] },
        { sql: 'INSERT INTO u (name) VALUES (?)', args: ['a'] },
      ],
      'write',
    )
    await expect(failing).rejects.toBeInstanceOf(LibsqlError)
    await expect(failing).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT',
      message: expect.stringContaining('UNIQUE constraint failed: u.name'),
    })
    const names = await c.execute('SELECT name FROM u ORDER BY name')
    expect(names.rows.map((r) => r.name)).toEqual(['a', 'b'])
    // The connection the failed batch used went back to the pool in autocommit state.
    await c.execute({ sql: 'INSERT INTO u (name) VALUES (?)', args: ['d'] })
    expect((await c.execute('SELECT count(*) AS n FROM u')).rows[0]!.n).toBe(3)
  })

  it('runs read batches and refuses writes in them', async () => {
    const c = createClient({ url: dbUrl(freshDb()) })
    await c.execute('CREATE TABLE r (x INTEGER)')
    await c.execute('INSERT INTO r VALUES (1), (2)')
    const [sum, count] = await c.batch(['SELECT sum(x) AS s FROM r', 'SELECT count(*) AS n FROM r'], 'read')
    expect(sum!.rows[0]!.s).toBe(3)
    expect(count!.rows[0]!.n).toBe(2)
    await expect(c.batch(['SELECT 1', 'INSERT INTO r VALUES (3)'], 'read')).rejects.toMatchObject({
      code: 'SQLITE_READONLY',
      message: expect.stringContaining('readonly database'),
    })
    const tx = await c.transaction('read')
    expect((await tx.execute('SELECT count(*) AS n FROM r')).rows[0]!.n).toBe(2)
    await expect(tx.execute('DELETE FROM r')).rejects.toBeInstanceOf(LibsqlError)
    await tx.commit()
    // Connections go back to the pool writable.
    await c.execute('INSERT INTO r VALUES (3)')
    expect((await c.execute('SELECT count(*) AS n FROM r')).rows[0]!.n).toBe(3)
  })

  it('commits and rolls back interactive transactions', async () => {
    const url = dbUrl(freshDb())
    const c = createClient({ url })
    const other = createClient({ url })
    await c.execute('CREATE TABLE acct (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)')
    await c.execute('INSERT INTO acct VALUES (1, 100), (2, 0)')

    const tx = await c.transaction('write')
    await tx.execute('UPDATE acct SET balance = balance - 30 WHERE id = 1')
    await tx.batch(['UPDATE acct SET balance = balance + 30 WHERE id = 2'])
    expect((await tx.execute('SELECT balance FROM acct WHERE id = 2')).rows[0]!.balance).toBe(30)
    // Isolated: outside the transaction nothing changed yet, and reading did not wait.
    expect((await other.execute('SELECT balance FROM acct WHERE id = 2')).rows[0]!.balance).toBe(0)
    await tx.commit()
    expect((await other.execute('SELECT balance FROM acct ORDER BY id')).rows.map((r) => r.balance)).toEqual([70, 30])

    const rolledBack = await c.transaction('write')
    await rolledBack.execute('DELETE FROM acct')
    await rolledBack.rollback()
    expect((await other.execute('SELECT count(*) AS n FROM acct')).rows[0]!.n).toBe(2)

    const deferred = await c.transaction('deferred')
    await deferred.executeMultiple('INSERT INTO acct VALUES (3, 1); INSERT INTO acct VALUES (4, 1);')
    await deferred.commit()
    expect((await other.execute('SELECT count(*) AS n FROM acct')).rows[0]!.n).toBe(4)
  })

  it('runs executeMultiple, including trigger bodies', async () => {
    const c = createClient({ url: dbUrl(freshDb()) })
    await c.executeMultiple(`
      CREATE TABLE log (msg TEXT);
      CREATE TABLE things (name TEXT);
      CREATE TRIGGER things_ai AFTER INSERT ON things BEGIN
        INSERT INTO log VALUES ('added ' || new.name);
        INSERT INTO log VALUES ('second; statement');
      END;
      INSERT INTO things VALUES ('x; y'); -- trailing; comment
    `)
    const log = await c.execute('SELECT msg FROM log ORDER BY rowid')
    expect(log.rows.map((r) => r.msg)).toEqual(['added x; y', 'second; statement'])
    await expect(
      c.executeMultiple('INSERT INTO log VALUES (1); INSERT INTO nope VALUES (2); INSERT INTO log VALUES (3)'),
    ).rejects.toMatchObject({
      code: 'SQL_INPUT_ERROR',
    })
    // Statements before the failing one ran, the ones after did not.
    expect((await c.execute('SELECT count(*) AS n FROM log')).rows[0]!.n).toBe(3)
  })

  it('keeps databases on different path prefixes apart', async () => {
    const a = createClient({ url: dbUrl(freshDb()) })
    const b = createClient({ url: dbUrl(freshDb()) })
    await a.execute('CREATE TABLE only_in_a (x)')
    await a.execute('INSERT INTO only_in_a VALUES (1)')
    await expect(b.execute('SELECT * FROM only_in_a')).rejects.toMatchObject({
      message: expect.stringContaining('no such table: only_in_a'),
    })
    await b.execute('CREATE TABLE only_in_a (y)')
    expect((await b.execute('SELECT count(*) AS n FROM only_in_a')).rows[0]!.n).toBe(0)
    expect((await a.execute('SELECT count(*) AS n FROM only_in_a')).rows[0]!.n).toBe(1)
  })

  it('reports SQL errors as LibsqlError with a useful message and code', async () => {
    const c = createClient({ url: dbUrl(freshDb()) })
    const syntax = await c.execute('SELEC 1').catch((e: unknown) => e)
    expect(syntax).toBeInstanceOf(LibsqlError)
    expect(syntax).toMatchObject({ code: 'SQL_INPUT_ERROR', message: expect.stringContaining('syntax error') })
    await c.execute('CREATE TABLE k (id INTEGER PRIMARY KEY)')
    await c.execute('INSERT INTO k VALUES (1)')
    await expect(c.execute('INSERT INTO k VALUES (1)')).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT',
      message: expect.stringContaining('UNIQUE constraint failed: k.id'),
    })
    await expect(c.execute('SELECT 1; SELECT 2')).rejects.toMatchObject({ code: 'SQL_MANY_STATEMENTS' })
    // Same error for a statement the server had prepared before its table was dropped.
    await c.execute('SELECT * FROM k')
    await c.execute('DROP TABLE k')
    await expect(c.execute('SELECT * FROM k')).rejects.toMatchObject({
      code: 'SQL_INPUT_ERROR',
      message: expect.stringContaining('no such table: k'),
    })
    // The client still works after errors.
    expect((await c.execute('SELECT 1 AS one')).rows[0]!.one).toBe(1)
  })
})

describe('drizzle-orm on the server', () => {
  const accounts = sqliteTable('accounts', {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull().unique(),
    balance: integer('balance').notNull().default(0),
  })
  const createTable = sql`CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, balance INTEGER NOT NULL DEFAULT 0)`

  it('inserts, selects, batches and rolls back transactions', async () => {
    const db = drizzle({ client: createWebClient({ url: dbUrl(freshDb()) }) })
    await db.run(createTable)
    const [ann] = await db.insert(accounts).values({ name: 'ann', balance: 10 }).returning()
    expect(ann).toEqual({ id: 1, name: 'ann', balance: 10 })
    expect(await db.select().from(accounts).where(eq(accounts.name, 'ann'))).toEqual([ann])

    const [, all] = await db.batch([db.insert(accounts).values({ name: 'bob' }), db.select().from(accounts)])
    expect(all.map((a) => a.name)).toEqual(['ann', 'bob'])

    await expect(
      db.transaction(async (tx) => {
        await tx.update(accounts).set({ balance: 999 }).where(eq(accounts.name, 'ann'))
        tx.rollback()
      }),
    ).rejects.toThrow(/rollback/i)
    await expect(
      db.transaction(async (tx) => {
        await tx.update(accounts).set({ balance: 999 }).where(eq(accounts.name, 'ann'))
        await tx.insert(accounts).values({ name: 'bob' })
      }),
    ).rejects.toMatchObject({
      cause: { code: 'SQLITE_CONSTRAINT', message: expect.stringContaining('UNIQUE constraint failed') },
    })
    expect((await db.select().from(accounts).where(eq(accounts.name, 'ann')))[0]!.balance).toBe(10)

    await db.transaction(async (tx) => {
      await tx.update(accounts).set({ balance: 5 }).where(eq(accounts.name, 'ann'))
      await tx
        .transaction(async (nested) => {
          await nested.update(accounts).set({ balance: 777 }).where(eq(accounts.name, 'bob'))
          nested.rollback()
        })
        .catch(() => undefined)
    })
    expect(
      (await db.select({ name: accounts.name, balance: accounts.balance }).from(accounts)).map((a) => [
        a.name,
        a.balance,
      ]),
    ).toEqual([
      ['ann', 5],
      ['bob', 0],
    ])
  })

  const writeMigrations = (dir: string) => {
    mkdirSync(join(dir, 'meta'), { recursive: true })
    writeFileSync(
      join(dir, '0000_init.sql'),
      'CREATE TABLE `widgets` (\n\t`id` integer PRIMARY KEY NOT NULL,\n\t`name` text NOT NULL\n);\n--> statement-breakpoint\nCREATE UNIQUE INDEX `widgets_name_unique` ON `widgets` (`name`);',
    )
    writeFileSync(join(dir, '0001_more.sql'), 'ALTER TABLE `widgets` ADD `size` integer DEFAULT 0 NOT NULL;')
    writeFileSync(
      join(dir, 'meta', '_journal.json'),
      JSON.stringify({
        version: '7',
        dialect: 'sqlite',
        entries: [
          { idx: 0, version: '6', when: 1_700_000_000_000, tag: '0000_init', breakpoints: true },
          { idx: 1, version: '6', when: 1_700_000_000_001, tag: '0001_more', breakpoints: true },
        ],
      }),
    )
  }

  const widgetColumns = async (url: string) => {
    const rs = await createWebClient({ url }).execute("SELECT name FROM pragma_table_info('widgets') ORDER BY cid")
    return rs.rows.map((r) => r.name)
  }

  it("applies migrations with drizzle-orm's libsql migrator", async () => {
    const dir = join(tmpRoot, 'migrations-orm')
    writeMigrations(dir)
    const url = dbUrl(freshDb())
    const db = drizzle({ client: createWebClient({ url }) })
    await migrate(db, { migrationsFolder: dir })
    await migrate(db, { migrationsFolder: dir })
    expect(await widgetColumns(url)).toEqual(['id', 'name', 'size'])
    expect((await db.all<{ n: number }>(sql`SELECT count(*) AS n FROM __drizzle_migrations`))[0]!.n).toBe(2)
  })

  it('applies migrations with the drizzle-kit CLI over http', async () => {
    const dir = join(tmpRoot, 'migrations-kit')
    writeMigrations(dir)
    const url = dbUrl(freshDb())
    const config = join(tmpRoot, 'drizzle.config.json')
    writeFileSync(config, JSON.stringify({ dialect: 'turso', out: dir, dbCredentials: { url } }))
    const bin = fileURLToPath(new URL('../../node_modules/drizzle-kit/bin.cjs', import.meta.url))
    const output = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [bin, 'migrate', '--config', config], (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
      ),
    )
    expect(output).toContain('migrations applied successfully')
    expect(await widgetColumns(url)).toEqual(['id', 'name', 'size'])
  })
})

describe('concurrency', () => {
  const counterDb = async () => {
    const url = dbUrl(freshDb())
    await createWebClient({ url }).executeMultiple(
      'CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);',
    )
    const read = async () => (await createWebClient({ url }).execute('SELECT n FROM counter')).rows[0]!.n
    return { url, read }
  }

  it('serializes 50 parallel increments from separate clients', async () => {
    const { url, read } = await counterDb()
    const clients = Array.from({ length: 50 }, () => createWebClient({ url }))
    await Promise.all(clients.map((c) => c.execute('UPDATE counter SET n = n + 1 WHERE id = 1')))
    expect(await read()).toBe(50)
  })

  it('queues interactive write transactions instead of failing them', async () => {
    const { url, read } = await counterDb()
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const tx = await createWebClient({ url }).transaction('write')
        const n = (await tx.execute('SELECT n FROM counter')).rows[0]!.n as number
        await sleep(5)
        await tx.execute({ sql: 'UPDATE counter SET n = ? WHERE id = 1', args: [n + 1] })
        await tx.commit()
      }),
    )
    expect(await read()).toBe(10)
  })

  it('makes a write wait for an open transaction, then succeed after the commit', async () => {
    const { url, read } = await counterDb()
    const holder = await createWebClient({ url }).transaction('write')
    await holder.execute('UPDATE counter SET n = n + 10 WHERE id = 1')

    let settled = false
    const waiting = createWebClient({ url })
      .execute('UPDATE counter SET n = n + 1 WHERE id = 1')
      .finally(() => (settled = true))
    const waitingBatch = createWebClient({ url }).batch(['UPDATE counter SET n = n * 2 WHERE id = 1'], 'write')
    await sleep(150)
    expect(settled).toBe(false)
    // Readers are not blocked meanwhile and see the last committed value.
    expect(await read()).toBe(0)

    await holder.commit()
    await expect(waiting).resolves.toMatchObject({ rowsAffected: 1 })
    await waitingBatch
    // Both queued writes ran once, after the commit, in the order they reached the server (the two
    // requests race there): (0 + 10 + 1) * 2 or (0 + 10) * 2 + 1.
    expect([22, 21]).toContain(await read())
  })

  it('answers SQLITE_BUSY after a bounded wait', async () => {
    const s = await startLibsqlServer({ dataDir: ':memory:', lockWaitTimeoutMs: 300 })
    try {
      const url = dbUrl('busy', s)
      await createWebClient({ url }).execute('CREATE TABLE t (x)')
      const holder = await createWebClient({ url }).transaction('write')
      await holder.execute('INSERT INTO t VALUES (1)')
      const started = Date.now()
      const error = await createWebClient({ url })
        .execute('INSERT INTO t VALUES (2)')
        .catch((e: unknown) => e)
      const waited = Date.now() - started
      expect(error).toBeInstanceOf(WebLibsqlError)
      expect(error).toMatchObject({ code: 'SQLITE_BUSY', message: expect.stringContaining('database is locked') })
      expect(waited).toBeGreaterThanOrEqual(250)
      expect(waited).toBeLessThan(3000)
      await holder.commit()
      await createWebClient({ url }).execute('INSERT INTO t VALUES (3)')
      expect((await createWebClient({ url }).execute('SELECT x FROM t ORDER BY x')).rows.map((r) => r.x)).toEqual([
        1, 3,
      ])
    } finally {
      await s.close()
    }
  })
})

describe('batons', () => {
  it('expires an abandoned transaction, rolling it back and releasing its lock', async () => {
    const s = await startLibsqlServer({ dataDir: ':memory:', batonIdleTimeoutMs: 200 })
    try {
      const url = dbUrl('expiry', s)
      const c = createWebClient({ url })
      await c.execute('CREATE TABLE t (who TEXT)')
      const abandoned = await createWebClient({ url }).transaction('write')
      await abandoned.execute("INSERT INTO t VALUES ('abandoned')")

      // This write queues behind the abandoned transaction until its baton expires.
      const started = Date.now()
      await c.execute("INSERT INTO t VALUES ('waiter')")
      const waited = Date.now() - started
      expect(waited).toBeGreaterThanOrEqual(100)
      expect(waited).toBeLessThan(2000)
      expect((await c.execute('SELECT who FROM t')).rows.map((r) => r.who)).toEqual(['waiter'])

      await expect(abandoned.execute('SELECT 1')).rejects.toMatchObject({
        code: 'STREAM_EXPIRED',
        message: expect.stringContaining('baton'),
      })
    } finally {
      await s.close()
    }
  })

  it('rejects unknown and replayed batons with HTTP 400', async () => {
    const url = dbUrl(freshDb())
    const first = await post(`${url}v2/pipeline`, { baton: null, requests: [exec('BEGIN'), exec('SELECT 1')] })
    expect(first.status).toBe(200)
    expect(first.body.baton).toEqual(expect.any(String))
    expect(first.body.base_url).toBeNull()

    const second = await post(`${url}v2/pipeline`, { baton: first.body.baton, requests: [exec('ROLLBACK')] })
    expect(second.status).toBe(200)
    expect(second.body.baton).not.toBe(first.body.baton)

    const replay = await post(`${url}v2/pipeline`, { baton: first.body.baton, requests: [exec('SELECT 1')] })
    expect(replay.status).toBe(400)
    expect(replay.body.error).toMatch(/baton/i)

    const unknown = await post(`${url}v2/pipeline`, { baton: 'nope.1', requests: [exec('SELECT 1')] })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toMatch(/invalid baton/i)

    // A baton belongs to its database.
    const other = await post(`${dbUrl(freshDb())}v2/pipeline`, {
      baton: second.body.baton,
      requests: [exec('SELECT 1')],
    })
    expect(other.status).toBe(400)

    const closed = await post(`${url}v2/pipeline`, { baton: second.body.baton, requests: [{ type: 'close' }] })
    expect(closed.body).toEqual({ baton: null, base_url: null, results: [{ type: 'ok', response: { type: 'close' } }] })
  })
})

describe('protocol details', () => {
  it('answers version probes, health, 404 for protobuf and 400 for bad names', async () => {
    for (const path of ['/v2', '/v3', '/some_db/v2', '/some-db/v3']) {
      expect((await fetch(`${server.url}${path}`)).status).toBe(200)
    }
    expect((await fetch(`${server.url}/v3-protobuf`)).status).toBe(404)
    expect((await fetch(`${server.url}/`)).status).toBe(404)
    expect((await fetch(`${server.url}/x/v2/pipeline`)).status).toBe(404)
    expect((await fetch(`${server.url}/x/v3-protobuf`)).status).toBe(404)
    expect((await post(`${server.url}/x/v3-protobuf/pipeline`, { requests: [] })).status).toBe(404)
    const health = await fetch(`${server.url}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ ok: true })
    for (const name of ['bad.name', 'a%2F..', 'x'.repeat(65)]) {
      const res = await post(`${server.url}/${name}/v2/pipeline`, { requests: [] })
      expect(res.status).toBe(400)
      expect(res.body.error).toMatch(/database name/)
    }
    expect((await post(`${dbUrl('y'.repeat(64))}v2/pipeline`, { requests: [] })).status).toBe(200)
    expect((await post(`${dbUrl(freshDb())}v2/pipeline`, '{not json')).status).toBe(400)
    expect((await post(`${dbUrl(freshDb())}v2/pipeline`, { requests: 'nope' })).status).toBe(400)
  })

  it('encodes values and results as the Hrana spec says', async () => {
    const url = `${dbUrl(freshDb())}v3/pipeline`
    const res = await post(url, {
      baton: null,
      requests: [
        exec('CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, n)'),
        exec('INSERT INTO t (i, f, s, b, n) VALUES (?, ?, ?, ?, ?) RETURNING id', [
          int(9_007_199_254_740_993n),
          { type: 'float', value: 0.5 },
          textValue('ü'),
          { type: 'blob', base64: Buffer.from('hi!').toString('base64') },
          { type: 'null' },
        ]),
        { type: 'execute', stmt: { sql: 'SELECT i, f, s, b, n FROM t', want_rows: true } },
        { type: 'execute', stmt: { sql: 'SELECT i FROM t', want_rows: false } },
        { type: 'close' },
      ],
    })
    expect(res.status).toBe(200)
    expect(res.body.baton).toBeNull()
    const [, insert, select, noRows, close] = res.body.results
    expect(insert.response.result).toMatchObject({
      cols: [{ name: 'id', decltype: 'INTEGER' }],
      rows: [[int(1)]],
      affected_row_count: 1,
      last_insert_rowid: '1',
    })
    expect(select.response.result.cols).toEqual([
      { name: 'i', decltype: 'INTEGER' },
      { name: 'f', decltype: 'REAL' },
      { name: 's', decltype: 'TEXT' },
      { name: 'b', decltype: 'BLOB' },
      { name: 'n', decltype: null },
    ])
    expect(select.response.result.rows).toEqual([
      [
        int(9_007_199_254_740_993n),
        { type: 'float', value: 0.5 },
        textValue('ü'),
        { type: 'blob', base64: 'aGkh' },
        { type: 'null' },
      ],
    ])
    expect(noRows.response.result.rows).toEqual([])
    expect(close).toEqual({ type: 'ok', response: { type: 'close' } })
  })

  it('binds named arguments with or without their prefix and rejects bad arguments', async () => {
    const url = `${dbUrl(freshDb())}v2/pipeline`
    const named = (sqlText: string, args: Record<string, unknown>) => ({
      type: 'execute',
      stmt: { sql: sqlText, named_args: Object.entries(args).map(([name, value]) => ({ name, value })) },
    })
    const res = await post(url, {
      requests: [
        named('SELECT :a, @b, $c, :a', { a: int(1), '@b': textValue('two'), $c: { type: 'null' } }),
        named('SELECT :a', { a: int(1), b: int(2) }),
        named('SELECT :a, :b', { a: int(1) }),
        exec('SELECT ?, ?', [int(1)]),
        exec('SELECT ?', [int(1), int(2)]),
        { type: 'execute', stmt: { sql: 'SELECT ?', args: [int(1)], named_args: [{ name: 'a', value: int(1) }] } },
        exec('SELECT ?2, ?1', [int(1), int(2)]),
        exec(''),
        exec('SELECT 1; SELECT 2'),
      ],
    })
    expect(res.status).toBe(200)
    const results = res.body.results
    expect(results[0].response.result.rows).toEqual([[int(1), textValue('two'), { type: 'null' }, int(1)]])
    expect(results.slice(1, 6).map((r: any) => r.error.code)).toEqual([
      'ARGS_INVALID',
      'ARGS_INVALID',
      'ARGS_INVALID',
      'ARGS_INVALID',
      'ARGS_BOTH_POSITIONAL_AND_NAMED',
    ])
    expect(results[2].error.message).toContain('value for parameter :b not found')
    expect(results[6].response.result.rows).toEqual([[int(2), int(1)]])
    expect(results[7].error.code).toBe('SQL_NO_STATEMENT')
    expect(results[8].error.code).toBe('SQL_MANY_STATEMENTS')
  })

  it('evaluates batch conditions', async () => {
    const url = `${dbUrl(freshDb())}v3/pipeline`
    const step = (sqlText: string, condition?: unknown) => ({
      stmt: { sql: sqlText },
      ...(condition ? { condition } : {}),
    })
    const res = await post(url, {
      requests: [
        {
          type: 'batch',
          batch: {
            steps: [
              step('SELECT 1'),
              step('SELECT * FROM missing'),
              step('SELECT 2', { type: 'ok', step: 1 }),
              step('SELECT 3', { type: 'error', step: 1 }),
              step('SELECT 4', {
                type: 'and',
                conds: [
                  { type: 'ok', step: 0 },
                  { type: 'not', cond: { type: 'ok', step: 2 } },
                ],
              }),
              step('SELECT 5', { type: 'or', conds: [{ type: 'ok', step: 2 }, { type: 'is_autocommit' }] }),
              step('BEGIN'),
              step('SELECT 7', { type: 'is_autocommit' }),
              step('ROLLBACK', { type: 'not', cond: { type: 'is_autocommit' } }),
            ],
          },
        },
      ],
    })
    expect(res.status).toBe(200)
    const { step_results: results, step_errors: errors } = res.body.results[0].response.result
    expect(results.map((r: unknown) => r !== null)).toEqual([true, false, false, true, true, true, true, false, true])
    expect(errors.map((e: unknown) => e !== null)).toEqual([
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ])
    expect(errors[1]).toMatchObject({
      code: 'SQL_INPUT_ERROR',
      message: expect.stringContaining('no such table: missing'),
    })

    const forward = await post(url, {
      requests: [{ type: 'batch', batch: { steps: [step('SELECT 1', { type: 'ok', step: 0 })] } }],
    })
    expect(forward.status).toBe(400)
  })

  it('supports stored SQL, sequence, describe and get_autocommit (v3 only)', async () => {
    const db = dbUrl(freshDb())
    const res = await post(`${db}v3/pipeline`, {
      requests: [
        { type: 'store_sql', sql_id: 1, sql: 'SELECT ? + 1 AS next' },
        { type: 'execute', stmt: { sql_id: 1, args: [int(41)] } },
        {
          type: 'sequence',
          sql: 'CREATE TABLE d (id INTEGER PRIMARY KEY, label TEXT); BEGIN; INSERT INTO d (label) VALUES (1)',
        },
        { type: 'get_autocommit' },
        { type: 'describe', sql: 'SELECT id, label AS l, 1 + 1 FROM d WHERE id = :id OR id = ?3' },
        { type: 'describe', sql: 'INSERT INTO d (label) VALUES (?)' },
        { type: 'describe', sql: 'EXPLAIN SELECT 1' },
        { type: 'execute', stmt: { sql: 'ROLLBACK' } },
        { type: 'get_autocommit' },
        { type: 'close_sql', sql_id: 1 },
        { type: 'close_sql', sql_id: 99 },
      ],
    })
    expect(res.status).toBe(200)
    const r = res.body.results.map((x: any) => x.response)
    expect(r[1].result.rows).toEqual([[int(42)]])
    expect(r[2]).toEqual({ type: 'sequence' })
    expect(r[3]).toEqual({ type: 'get_autocommit', is_autocommit: false })
    expect(r[4].result).toEqual({
      params: [{ name: ':id' }, { name: null }, { name: '?3' }],
      cols: [
        { name: 'id', decltype: 'INTEGER' },
        { name: 'l', decltype: 'TEXT' },
        { name: '1 + 1', decltype: null },
      ],
      is_explain: false,
      is_readonly: true,
    })
    expect(r[5].result).toMatchObject({ params: [{ name: null }], is_readonly: false, is_explain: false })
    expect(r[6].result).toMatchObject({ is_explain: true, is_readonly: true })
    expect(r[8]).toEqual({ type: 'get_autocommit', is_autocommit: true })

    const unknownId = await post(`${db}v3/pipeline`, { requests: [{ type: 'execute', stmt: { sql_id: 5 } }] })
    expect(unknownId.status).toBe(400)
    const duplicate = await post(`${db}v3/pipeline`, {
      requests: [
        { type: 'store_sql', sql_id: 1, sql: 'SELECT 1' },
        { type: 'store_sql', sql_id: 1, sql: 'SELECT 2' },
      ],
    })
    expect(duplicate.status).toBe(400)
    const v2 = await post(`${db}v2/pipeline`, { requests: [{ type: 'get_autocommit' }] })
    expect(v2.status).toBe(400)
    const afterClose = await post(`${db}v2/pipeline`, { requests: [{ type: 'close' }, exec('SELECT 1')] })
    expect(afterClose.status).toBe(400)
  })

  it('streams batch results from the v3 cursor endpoint', async () => {
    const db = dbUrl(freshDb())
    const res = await fetch(`${db}v3/cursor`, {
      method: 'POST',
      body: JSON.stringify({
        baton: null,
        batch: {
          steps: [
            { stmt: { sql: 'CREATE TABLE c (x INTEGER)' } },
            { stmt: { sql: 'INSERT INTO c VALUES (1), (2)' } },
            { stmt: { sql: 'SELECT x FROM c ORDER BY x' } },
            { stmt: { sql: 'SELECT * FROM nope' } },
            { stmt: { sql: 'SELECT 1' }, condition: { type: 'ok', step: 3 } },
          ],
        },
      }),
    })
    expect(res.status).toBe(200)
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines[0]).toEqual({ baton: expect.any(String), base_url: null })
    expect(lines.slice(1).map((e: any) => e.type)).toEqual([
      'step_begin',
      'step_end',
      'step_begin',
      'step_end',
      'step_begin',
      'row',
      'row',
      'step_end',
      'step_error',
    ])
    expect(lines[4]).toMatchObject({ type: 'step_end', affected_row_count: 2, last_insert_rowid: '2' })
    expect(lines[5]).toEqual({ type: 'step_begin', step: 2, cols: [{ name: 'x', decltype: 'INTEGER' }] })
    expect(lines[6]).toEqual({ type: 'row', row: [int(1)] })
    expect(lines[9]).toMatchObject({ type: 'step_error', step: 3, error: { code: 'SQL_INPUT_ERROR' } })

    // The cursor's baton continues the same stream.
    const next = await post(`${db}v3/pipeline`, { baton: lines[0].baton, requests: [{ type: 'close' }] })
    expect(next.body.baton).toBeNull()
  })
})

describe('stats', () => {
  it('counts the pipelines that write only bookkeeping (audit log, provider call counts) apart', async () => {
    const s = await startLibsqlServer({ dataDir: ':memory:' })
    try {
      const client = createWebClient({ url: s.url })
      await client.batch(
        ['CREATE TABLE audit_log (id)', 'CREATE TABLE provider_call_stats (id)', 'CREATE TABLE t (x)'],
        'write',
      )
      s.resetStats()
      await client.execute('INSERT INTO "audit_log" (id) VALUES (1)')
      await client.batch(
        ['INSERT INTO audit_log (id) VALUES (2)', 'insert into "provider_call_stats" (id) values (3)'],
        'write',
      )
      // Not alone: with another write, or a read of it.
      await client.batch(['INSERT INTO t VALUES (1)', 'INSERT INTO audit_log (id) VALUES (4)'], 'write')
      await client.execute('SELECT * FROM audit_log')
      expect(s.stats()).toMatchObject({ pipeline_requests: 4, bookkeeping_requests: 2 })
    } finally {
      await s.close()
    }
  })

  it('counts pipeline and cursor requests, the time spent serving them and their bytes, in total and per database', async () => {
    const s = await startLibsqlServer({ dataDir: ':memory:' })
    try {
      const one = createWebClient({ url: dbUrl('one', s) })
      const main = createWebClient({ url: s.url })
      await one.execute('CREATE TABLE t (x)')
      await main.execute('CREATE TABLE m (x)')
      expect(s.stats().pipeline_requests).toBe(2)

      s.resetStats()
      expect(s.stats()).toEqual({
        pipeline_requests: 0,
        cursor_requests: 0,
        serve_ms: 0,
        request_bytes: 0,
        response_bytes: 0,
        bookkeeping_requests: 0,
        databases: {},
      })
      await one.execute('INSERT INTO t VALUES (1)')
      await one.batch(['INSERT INTO t VALUES (2)', 'INSERT INTO t VALUES (3)', 'SELECT count(*) FROM t'], 'write')
      const tx = await one.transaction('write')
      await tx.execute('INSERT INTO t VALUES (4)')
      await tx.execute('INSERT INTO t VALUES (5)')
      await tx.commit()
      await main.execute('SELECT * FROM m')
      await fetch(`${dbUrl('one', s)}v3/cursor`, {
        method: 'POST',
        body: JSON.stringify({ batch: { steps: [] } }),
      }).then((r) => r.text())

      const expected = {
        pipeline_requests: 6,
        cursor_requests: 1,
        databases: {
          one: { pipeline_requests: 5, cursor_requests: 1 },
          main: { pipeline_requests: 1, cursor_requests: 0 },
        },
      }
      const stats = s.stats()
      expect(stats).toMatchObject(expected)
      expect(await (await fetch(`${s.url}/_stats`)).json()).toMatchObject(expected)
      // Serving took time, all of it accounted to the databases that were asked.
      expect(stats.serve_ms).toBeGreaterThan(0)
      expect(stats.databases.one!.serve_ms + stats.databases.main!.serve_ms).toBeCloseTo(stats.serve_ms, 6)
      expect(stats.databases.main!.serve_ms).toBeGreaterThan(0)

      // Bytes of the Hrana bodies both ways, exactly as sent and received.
      s.resetStats()
      const body = JSON.stringify({ requests: [{ type: 'execute', stmt: { sql: 'SELECT count(*) AS n FROM t' } }] })
      const answer = await (await fetch(`${dbUrl('one', s)}v2/pipeline`, { method: 'POST', body })).text()
      const cursorBody = JSON.stringify({ batch: { steps: [] } })
      const cursorAnswer = await (
        await fetch(`${dbUrl('one', s)}v3/cursor`, { method: 'POST', body: cursorBody })
      ).text()
      expect(s.stats()).toMatchObject({
        request_bytes: body.length + cursorBody.length,
        response_bytes: answer.length + cursorAnswer.length,
        databases: {
          one: { request_bytes: body.length + cursorBody.length, response_bytes: answer.length + cursorAnswer.length },
        },
      })

      const reset = await fetch(`${s.url}/_stats/reset`, { method: 'POST' })
      expect(reset.status).toBe(200)
      expect(s.stats()).toEqual({
        pipeline_requests: 0,
        cursor_requests: 0,
        serve_ms: 0,
        request_bytes: 0,
        response_bytes: 0,
        bookkeeping_requests: 0,
        databases: {},
      })
    } finally {
      await s.close()
    }
  })
})

describe('auth', () => {
  it('requires the bearer token on pipeline and cursor endpoints when configured', async () => {
    const s = await startLibsqlServer({ dataDir: ':memory:', authToken: 'sekret-token' })
    try {
      const url = dbUrl('authed', s)
      const anonymous = await createWebClient({ url })
        .execute('SELECT 1')
        .catch((e: unknown) => e)
      expect(anonymous).toBeInstanceOf(WebLibsqlError)
      expect(anonymous).toMatchObject({ code: 'UNAUTHORIZED' })
      await expect(createWebClient({ url, authToken: 'wrong' }).execute('SELECT 1')).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
      })
      expect((await createWebClient({ url, authToken: 'sekret-token' }).execute('SELECT 1 AS one')).rows[0]!.one).toBe(
        1,
      )

      expect((await post(`${url}v2/pipeline`, { requests: [] })).status).toBe(401)
      expect((await post(`${url}v3/cursor`, { batch: { steps: [] } })).status).toBe(401)
      expect((await fetch(`${s.url}/health`)).status).toBe(200)
      expect(s.stats().pipeline_requests).toBe(1)
    } finally {
      await s.close()
    }
  })
})

describe('lifecycle', () => {
  it('keeps data in WAL-mode files across restarts', async () => {
    const dir = join(tmpRoot, 'persist')
    const first = await startLibsqlServer({ dataDir: dir })
    const c = createWebClient({ url: dbUrl('keep', first) })
    await c.execute('CREATE TABLE kept (v TEXT)')
    await c.execute("INSERT INTO kept VALUES ('still here')")
    expect((await c.execute('PRAGMA journal_mode')).rows[0]![0]).toBe('wal')
    await first.close()
    expect(existsSync(join(dir, 'keep.db'))).toBe(true)

    const second = await startLibsqlServer({ dataDir: dir })
    try {
      const rs = await createWebClient({ url: dbUrl('keep', second) }).execute('SELECT v FROM kept')
      expect(rs.rows.map((r) => r.v)).toEqual(['still here'])
    } finally {
      await second.close()
    }
  })

  it('runs from the CLI entry and stops cleanly on SIGTERM', async () => {
    const dataDir = join(tmpRoot, 'cli')
    const main = fileURLToPath(new URL('../../sandbox/libsql-server/main.ts', import.meta.url))
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: { ...process.env, LIBSQL_PORT: '0', LIBSQL_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString()
          if (out.includes('\n')) resolve(out)
        })
        child.once('exit', () => reject(new Error(`exited early: ${out}`)))
      })
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0]
      expect(url).toBeDefined()
      const c = createWebClient({ url: `${url}/cli/` })
      await c.execute('CREATE TABLE t (x)')
      expect(existsSync(join(dataDir, 'cli.db'))).toBe(true)
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
  })

  it('closes promptly while a request waits for a lock', async () => {
    const s = await startLibsqlServer({ dataDir: ':memory:' })
    const url = dbUrl('closing', s)
    await createWebClient({ url }).execute('CREATE TABLE t (x)')
    const holder = await createWebClient({ url }).transaction('write')
    await holder.execute('INSERT INTO t VALUES (1)')
    const waiting = createWebClient({ url })
      .execute('INSERT INTO t VALUES (2)')
      .catch((e: unknown) => e)
    await sleep(50)
    const started = Date.now()
    await s.close()
    expect(Date.now() - started).toBeLessThan(1000)
    expect(await waiting).toBeInstanceOf(Error)
  })
})
