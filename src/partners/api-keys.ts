import { and, desc, eq, gt, isNull, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { apiKeys } from '../../db/schema'
import { newId } from '../lib/ids'
import { Problem } from '../lib/problem'
import { displayPrefix, generateApiKey, hashApiKey, type KeyAccess, type KeyMode } from './key-format'
import { getPartner } from './partners'

/** A key's use is written at most this often (`last_used_at` is accurate to the minute). */
export const KEY_USE_INTERVAL_MS = 60_000

/** How long a rolled key keeps working by default, and at most. */
export const ROLL_GRACE_SECONDS = { default: 24 * 3600, max: 7 * 24 * 3600 }

/** Whose keys a call may see: a partner, in one mode or (the operator) both. */
export type KeyOwner = { partnerId: string; mode?: KeyMode }

const keyOf = (owner: KeyOwner, keyId: string) =>
  and(
    eq(apiKeys.id, keyId),
    eq(apiKeys.partnerId, owner.partnerId),
    owner.mode ? eq(apiKeys.mode, owner.mode) : undefined,
  )

const keyNotFound = (owner: KeyOwner, keyId: string) =>
  new Problem('api_key_not_found', { detail: `Partner "${owner.partnerId}" has no API key "${keyId}".` })

/**
 * Issues a key (`full` access unless `read_only` is asked for); the key itself is returned once and
 * only its keyed hash is stored. One statement, run as a batch (room for an audit entry beside it).
 */
export const issueApiKey = async (
  db: Db,
  secret: string,
  partnerId: string,
  input: { mode: KeyMode; access?: KeyAccess; expires_at?: string },
  now: number,
) => {
  await getPartner(db, partnerId)
  const key = generateApiKey(input.mode)
  const values = {
    id: newId('key', now),
    partnerId,
    mode: input.mode,
    access: input.access ?? 'full',
    prefix: displayPrefix(key),
    hash: await hashApiKey(secret, key),
    createdAt: now,
    expiresAt: input.expires_at ? Date.parse(input.expires_at) : null,
  }
  const [[row]] = await db.batch([db.insert(apiKeys).values(values).returning()])
  return { row: row!, key }
}

/** A partner's keys (of one mode, when given), newest first. */
export const listApiKeys = async (db: Db, partnerId: string, mode?: KeyMode) => {
  await getPartner(db, partnerId)
  return db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.partnerId, partnerId), mode ? eq(apiKeys.mode, mode) : undefined))
    .orderBy(desc(apiKeys.id))
}

/** One key of the owner's; another partner's or another mode's is `api_key_not_found`. */
export const findApiKey = async (db: Db, owner: KeyOwner, keyId: string) => {
  const [row] = await db.select().from(apiKeys).where(keyOf(owner, keyId)).limit(1)
  if (!row) throw keyNotFound(owner, keyId)
  return row
}

/** Revoking twice is harmless: the first revocation time is kept. */
export const revokeApiKey = async (db: Db, owner: KeyOwner, keyId: string, now: number) => {
  const [, [row]] = await db.batch([
    db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(keyOf(owner, keyId), isNull(apiKeys.revokedAt))),
    db.select().from(apiKeys).where(keyOf(owner, keyId)),
  ])
  if (!row) throw keyNotFound(owner, keyId)
  return row
}

/**
 * Rolls a key: a new key of the same mode and access (returned once), and the old one made to expire after
 * `graceSeconds` (0: at once; never later than it already would). A revoked or expired key cannot
 * be rolled (`api_key_inactive`). The new key is written only if the old one is still live when
 * the batch runs, and in the same transaction as the old one's new expiry, so a roll racing a
 * revocation either happens whole or not at all.
 */
export const rollApiKey = async (
  db: Db,
  secret: string,
  owner: KeyOwner,
  keyId: string,
  graceSeconds: number,
  now: number,
) => {
  const old = await findApiKey(db, owner, keyId)
  const key = generateApiKey(old.mode)
  const id = newId('key', now)
  const until = now + graceSeconds * 1000
  const live = and(
    keyOf(owner, keyId),
    eq(apiKeys.mode, old.mode),
    isNull(apiKeys.revokedAt),
    or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)),
  )
  const [, [rolled], [fresh], [current]] = await db.batch([
    db.run(sql`INSERT INTO ${apiKeys} (id, partner_id, mode, access, prefix, hash, created_at)
      SELECT ${id}, partner_id, mode, access, ${displayPrefix(key)}, ${await hashApiKey(secret, key)}, ${now}
      FROM ${apiKeys} WHERE ${live}`),
    db
      .update(apiKeys)
      .set({
        expiresAt: sql`CASE WHEN ${apiKeys.expiresAt} IS NOT NULL AND ${apiKeys.expiresAt} < ${until} THEN ${apiKeys.expiresAt} ELSE ${until} END`,
      })
      .where(live)
      .returning(),
    db.select().from(apiKeys).where(eq(apiKeys.id, id)),
    db.select().from(apiKeys).where(keyOf(owner, keyId)),
  ])
  if (!current) throw keyNotFound(owner, keyId)
  if (!rolled || !fresh) {
    throw new Problem('api_key_inactive', {
      detail: `API key "${keyId}" is ${current.revokedAt !== null ? 'revoked' : 'expired'}: it cannot be rolled. Issue a new key instead.`,
    })
  }
  return { row: fresh, key, previous: rolled }
}

/**
 * Records that a key authenticated a request, unless a use within the last minute is already
 * recorded (by this isolate or another): at most one write a minute per key.
 */
export const recordKeyUse = async (db: Db, keyId: string, now: number) => {
  await db
    .update(apiKeys)
    .set({ lastUsedAt: now })
    .where(
      and(eq(apiKeys.id, keyId), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, now - KEY_USE_INTERVAL_MS))),
    )
}
