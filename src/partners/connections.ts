import { and, eq } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { providerConnections } from '../../db/schema'
import { encryptJson } from '../lib/crypto'
import { newId } from '../lib/ids'
import type { ProviderName } from '../providers/provider'
import { connectionContext } from '../providers/registry'

export type ConnectionInput = {
  provider: ProviderName
  baseUrl: string
  credentials: Record<string, string>
  settings?: Record<string, unknown>
}

/** Creates or replaces the partner's connection to a provider; credentials are sealed first. */
export const upsertConnection = async (
  db: Db,
  encryptionKey: string,
  partnerId: string,
  input: ConnectionInput,
  now: number,
) => {
  const sealed = await encryptJson(encryptionKey, connectionContext(partnerId, input.provider), input.credentials)
  const settings = input.settings ?? {}
  const [row] = await db
    .insert(providerConnections)
    .values({
      id: newId('conn', now),
      partnerId,
      provider: input.provider,
      baseUrl: input.baseUrl,
      credentials: sealed,
      settings,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: [providerConnections.partnerId, providerConnections.provider],
      // New credentials have not been checked: an older result must not speak for them.
      set: { baseUrl: input.baseUrl, credentials: sealed, settings, lastCheck: null, updatedAt: now },
    })
    .returning()
  return row!
}

export const findConnection = async (db: Db, partnerId: string, provider: ProviderName) =>
  (
    await db
      .select()
      .from(providerConnections)
      .where(and(eq(providerConnections.partnerId, partnerId), eq(providerConnections.provider, provider)))
      .limit(1)
  )[0]

export const listConnections = (db: Db, partnerId: string) =>
  db.select().from(providerConnections).where(eq(providerConnections.partnerId, partnerId))

export const deleteConnection = async (db: Db, partnerId: string, provider: ProviderName) =>
  (
    await db
      .delete(providerConnections)
      .where(and(eq(providerConnections.partnerId, partnerId), eq(providerConnections.provider, provider)))
      .returning({ id: providerConnections.id })
  ).length > 0
