import { and, eq } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { ownedBy } from '../../db/owned'
import { providerConnections } from '../../db/schema'
import { encryptJson } from '../lib/crypto'
import { newId } from '../lib/ids'
import type { ProviderName } from '../providers/provider'
import { connectionContext } from '../providers/registry'
import type { Mode } from '../schemas/common'
import type { Owner } from '../services'

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
  owner: Owner,
  input: ConnectionInput,
  now: number,
) => {
  // Bound to partner and provider (not the mode: rows sealed before modes existed must still open).
  const sealed = await encryptJson(encryptionKey, connectionContext(owner.id, input.provider), input.credentials)
  const settings = input.settings ?? {}
  const [row] = await db
    .insert(providerConnections)
    .values({
      id: newId('conn', now),
      partnerId: owner.id,
      mode: owner.mode,
      provider: input.provider,
      baseUrl: input.baseUrl,
      credentials: sealed,
      settings,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: [providerConnections.partnerId, providerConnections.mode, providerConnections.provider],
      // New credentials have not been checked: an older result must not speak for them.
      set: { baseUrl: input.baseUrl, credentials: sealed, settings, lastCheck: null, updatedAt: now },
    })
    .returning()
  return row!
}

const ownedConnection = (owner: Owner, provider: ProviderName) =>
  and(ownedBy(providerConnections, owner), eq(providerConnections.provider, provider))

export const findConnection = async (db: Db, owner: Owner, provider: ProviderName) =>
  (await db.select().from(providerConnections).where(ownedConnection(owner, provider)).limit(1))[0]

/** A partner's connections, of one mode or both. */
export const listConnections = (db: Db, partnerId: string, mode?: Mode) =>
  db
    .select()
    .from(providerConnections)
    .where(and(eq(providerConnections.partnerId, partnerId), mode ? eq(providerConnections.mode, mode) : undefined))

export const deleteConnection = async (db: Db, owner: Owner, provider: ProviderName) =>
  (
    await db
      .delete(providerConnections)
      .where(ownedConnection(owner, provider))
      .returning({ id: providerConnections.id })
  ).length > 0
