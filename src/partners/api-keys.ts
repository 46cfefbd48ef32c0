import { and, desc, eq, isNull } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { apiKeys } from '../../db/schema'
import { newId } from '../lib/ids'
import { Problem } from '../lib/problem'
import { displayPrefix, generateApiKey, hashApiKey, type KeyMode } from './key-format'
import { getPartner } from './partners'

/** Issues a key; the key itself is returned once and only its keyed hash is stored. */
export const issueApiKey = async (
  db: Db,
  secret: string,
  partnerId: string,
  input: { mode: KeyMode; expires_at?: string },
  now: number,
) => {
  await getPartner(db, partnerId)
  const key = generateApiKey(input.mode)
  const [row] = await db
    .insert(apiKeys)
    .values({
      id: newId('key', now),
      partnerId,
      mode: input.mode,
      prefix: displayPrefix(key),
      hash: await hashApiKey(secret, key),
      createdAt: now,
      expiresAt: input.expires_at ? Date.parse(input.expires_at) : null,
    })
    .returning()
  return { row: row!, key }
}

export const listApiKeys = async (db: Db, partnerId: string) => {
  await getPartner(db, partnerId)
  return db.select().from(apiKeys).where(eq(apiKeys.partnerId, partnerId)).orderBy(desc(apiKeys.id))
}

/** Revoking twice is harmless: the first revocation time is kept. */
export const revokeApiKey = async (db: Db, partnerId: string, keyId: string, now: number) => {
  const [, [row]] = await db.batch([
    db
      .update(apiKeys)
      .set({ revokedAt: now })
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.partnerId, partnerId), isNull(apiKeys.revokedAt))),
    db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.partnerId, partnerId))),
  ])
  if (!row) throw new Problem('api_key_not_found', { detail: `Partner "${partnerId}" has no API key "${keyId}".` })
  return row
}
