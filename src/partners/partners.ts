import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { apiKeys, partners, type ApiKey, type Partner } from '../../db/schema'
import { Problem } from '../lib/problem'
import { newId } from '../lib/ids'
import { iso } from '../lib/time'
import { displayPrefix, generateApiKey, hashApiKey, type KeyMode } from './keys'
import { toPage } from '../lib/page'

export type PartnerLimits = {
  resend_limit?: number | null
  resend_cooldown_seconds?: number | null
  confirm_attempts?: number | null
  rate_limit?: number | null
}

const limitColumns = (input: PartnerLimits) => ({
  ...(input.resend_limit !== undefined ? { resendLimit: input.resend_limit } : {}),
  ...(input.resend_cooldown_seconds !== undefined ? { resendCooldownSeconds: input.resend_cooldown_seconds } : {}),
  ...(input.confirm_attempts !== undefined ? { confirmAttempts: input.confirm_attempts } : {}),
  ...(input.rate_limit !== undefined ? { rateLimit: input.rate_limit } : {}),
})



const partnerNotFound = (id: string) => new Problem('partner_not_found', { detail: `No partner with id "${id}".` })

export const createPartner = async (db: Db, input: { name: string } & PartnerLimits, now: number) => {
  const [row] = await db
    .insert(partners)
    .values({ id: newId('ptn', now), name: input.name, ...limitColumns(input), createdAt: now, updatedAt: now })
    .returning()
  return row!
}

export const getPartner = async (db: Db, id: string) => {
  const [row] = await db.select().from(partners).where(eq(partners.id, id)).limit(1)
  if (!row) throw partnerNotFound(id)
  return row
}

export const updatePartner = async (db: Db, id: string, input: { name?: string } & PartnerLimits, now: number) => {
  const [row] = await db
    .update(partners)
    .set({ ...(input.name ? { name: input.name } : {}), ...limitColumns(input), updatedAt: now })
    .where(eq(partners.id, id))
    .returning()
  if (!row) throw partnerNotFound(id)
  return row
}

export const listPartners = async (db: Db, limit: number, startingAfter?: string) => {
  const rows = await db
    .select()
    .from(partners)
    .where(startingAfter ? lt(partners.id, startingAfter) : undefined)
    .orderBy(desc(partners.id))
    .limit(limit + 1)
  return toPage(rows, limit)
}

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
    db.select().from(apiKeys).where(and(eq(apiKeys.id, keyId), eq(apiKeys.partnerId, partnerId))),
  ])
  if (!row) throw new Problem('api_key_not_found', { detail: `Partner "${partnerId}" has no API key "${keyId}".` })
  return row
}

export const partnerExists = async (db: Db, id: string) =>
  (await db.select({ one: sql`1` }).from(partners).where(eq(partners.id, id)).limit(1)).length > 0
