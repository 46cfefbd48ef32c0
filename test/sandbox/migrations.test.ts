import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { drizzle } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { afterAll, describe, expect, it } from 'vitest'

// The modes migration on a database that already holds data: every existing row gets the mode of the
// keys that could have made it (only live keys ever → live; anything else → test, the safe side).
const migrations = fileURLToPath(new URL('../../db/migrations', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'tgw-migrations-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** The migrations folder as it was before `tag` (its journal cut there). */
const folderBefore = (tag: string) => {
  const dir = join(work, `before-${tag}`)
  cpSync(migrations, dir, { recursive: true })
  const journalPath = join(dir, 'meta/_journal.json')
  const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: { tag: string }[] }
  journal.entries = journal.entries.slice(
    0,
    journal.entries.findIndex((e) => e.tag === tag),
  )
  writeFileSync(journalPath, JSON.stringify(journal))
  return dir
}

describe('migration 0007 (modes) keeps existing data working', () => {
  it('backfills each partner’s rows by the modes of its keys, and a replayed transfer_id still finds its transfer', async () => {
    const client = createClient({ url: `file:${join(work, 'db.sqlite')}` })
    const db = drizzle({ client })
    await migrate(db, { migrationsFolder: folderBefore('0007_modes') })

    const now = Date.now()
    const partners = { liveOnly: ['live'], testOnly: ['test'], none: [], both: ['test', 'live'] } as const
    for (const [id, modes] of Object.entries(partners)) {
      await client.execute({
        sql: 'INSERT INTO partners (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)',
        args: [id, id, now, now],
      })
      for (const mode of modes) {
        await client.execute({
          sql: 'INSERT INTO api_keys (id, partner_id, mode, prefix, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
          args: [`key-${id}-${mode}`, id, mode, 'tgw_x', `hash-${id}-${mode}`, now],
        })
      }
      await client.execute({
        sql: `INSERT INTO provider_connections (id, partner_id, provider, base_url, credentials, settings, created_at, updated_at)
              VALUES (?, ?, 'sfox', 'https://x', 'sealed', '{}', ?, ?)`,
        args: [`conn-${id}`, id, now, now],
      })
      await client.execute({
        sql: `INSERT INTO transfers (id, partner_id, transfer_id, provider, status, request_hash, details, resend_limit,
                resend_cooldown_ms, created_at, updated_at)
              VALUES (?, ?, 'order-1', 'sfox', 'completed', 'h', '{}', 3, 60000, ?, ?)`,
        args: [`tr-${id}`, id, now, now],
      })
      await client.execute({
        sql: `INSERT INTO webhook_endpoints (id, partner_id, url, secret, created_at, updated_at)
              VALUES (?, ?, 'https://r', 'sealed', ?, ?)`,
        args: [`we-${id}`, id, now, now],
      })
    }

    await migrate(db, { migrationsFolder: migrations })

    const modeOf = async (table: string, id: string) =>
      (await client.execute({ sql: `SELECT mode FROM ${table} WHERE id = ?`, args: [id] })).rows[0]?.mode
    const expected = { liveOnly: 'live', testOnly: 'test', none: 'test', both: 'test' }
    for (const [id, mode] of Object.entries(expected)) {
      expect(await modeOf('provider_connections', `conn-${id}`), id).toBe(mode)
      expect(await modeOf('transfers', `tr-${id}`), id).toBe(mode)
      expect(await modeOf('webhook_endpoints', `we-${id}`), id).toBe(mode)
    }
    // The same transfer_id is still one transfer in its mode, and may now exist once in the other.
    const found = await client.execute({
      sql: "SELECT id FROM transfers WHERE partner_id = 'liveOnly' AND mode = 'live' AND transfer_id = 'order-1'",
      args: [],
    })
    expect(found.rows.map((r) => r.id)).toEqual(['tr-liveOnly'])
    await client.execute({
      sql: `INSERT INTO transfers (id, partner_id, mode, transfer_id, provider, status, request_hash, details, resend_limit,
              resend_cooldown_ms, created_at, updated_at)
            VALUES ('tr-liveOnly-test', 'liveOnly', 'test', 'order-1', 'sfox', 'submitting', 'h', '{}', 3, 60000, ?, ?)`,
      args: [now, now],
    })
    await expect(
      client.execute({
        sql: `INSERT INTO transfers (id, partner_id, mode, transfer_id, provider, status, request_hash, details, resend_limit,
                resend_cooldown_ms, created_at, updated_at)
              VALUES ('tr-dup', 'liveOnly', 'test', 'order-1', 'sfox', 'submitting', 'h', '{}', 3, 60000, ?, ?)`,
        args: [now, now],
      }),
    ).rejects.toThrow(/UNIQUE/)
    client.close()
  })
})

describe('migration 0010 (events without a transfer) keeps events and their deliveries', () => {
  it('rebuilds events with a nullable transfer_pk, every row and every delivery kept', async () => {
    const client = createClient({ url: `file:${join(work, 'db-0010.sqlite')}` })
    const db = drizzle({ client })
    await migrate(db, { migrationsFolder: folderBefore('0010_test_events') })
    const now = Date.now()
    const statements = [
      `INSERT INTO partners (id, name, created_at, updated_at) VALUES ('p1', 'p1', ${now}, ${now})`,
      `INSERT INTO transfers (id, partner_id, mode, transfer_id, provider, status, request_hash, details, resend_limit,
         resend_cooldown_ms, created_at, updated_at)
       VALUES ('tr1', 'p1', 'test', 'order-1', 'sfox', 'completed', 'h', '{}', 3, 60000, ${now}, ${now})`,
      `INSERT INTO webhook_endpoints (id, partner_id, mode, url, secret, created_at, updated_at)
       VALUES ('we1', 'p1', 'test', 'https://r', 'sealed', ${now}, ${now})`,
      `INSERT INTO events (id, partner_id, mode, transfer_pk, transfer_id, type, sequence, data, created_at)
       VALUES ('ev1', 'p1', 'test', 'tr1', 'order-1', 'transfer.completed', 1, '{}', ${now})`,
      `INSERT INTO deliveries (id, event_id, endpoint_id, partner_id, status, attempts, created_at, updated_at)
       VALUES ('dl1', 'ev1', 'we1', 'p1', 'delivered', 1, ${now}, ${now})`,
    ]
    for (const sql of statements) await client.execute(sql)

    await migrate(db, { migrationsFolder: migrations })

    expect((await client.execute('SELECT id, transfer_pk FROM events')).rows.map((r) => ({ ...r }))).toEqual([
      { id: 'ev1', transfer_pk: 'tr1' },
    ])
    expect((await client.execute('SELECT event_id FROM deliveries')).rows.map((r) => r.event_id)).toEqual(['ev1'])
    await client.execute(
      `INSERT INTO events (id, partner_id, mode, transfer_pk, transfer_id, type, sequence, data, created_at)
       VALUES ('ev2', 'p1', 'test', NULL, 'tgw_test_transfer', 'transfer.test', 1, '{}', ${now})`,
    )
    expect((await client.execute('PRAGMA foreign_key_check')).rows).toEqual([])
    client.close()
  })
})
