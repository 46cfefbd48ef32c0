import { and, desc, eq, isNull, lt } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { ownedBy } from '../../db/owned'
import { type WebhookEndpoint, webhookEndpoints } from '../../db/schema'
import { decryptJson, encryptJson } from '../lib/crypto'
import { newId } from '../lib/ids'
import { toPage } from '../lib/page'
import { fieldProblem, Problem } from '../lib/problem'
import type { Settings } from '../lib/settings'
import type { Owner } from '../services'
import { DISABLED_BY_PARTNER } from './outbox'
import { generateSecret } from './signing'
import { checkWebhookUrl, urlPolicyOf } from './url-policy'

/** Binds a sealed secret to its endpoint (AES-GCM additional data). */
const secretContext = (endpointId: string) => `webhook-endpoint:${endpointId}`

export const sealSecret = (key: string, endpointId: string, secret: string) =>
  encryptJson(key, secretContext(endpointId), secret)
export const openSecret = (key: string, endpointId: string, sealed: string) =>
  decryptJson<string>(key, secretContext(endpointId), sealed)

/** The secrets that sign right now: the current one, and the previous one during its grace period. */
export const signingSecrets = async (key: string, endpoint: WebhookEndpoint, now: number): Promise<string[]> => {
  const secrets = [await openSecret(key, endpoint.id, endpoint.secret)]
  if (endpoint.previousSecret && (endpoint.previousSecretExpiresAt ?? 0) > now) {
    // One that cannot be opened (it is what a rotation replaced) is left out rather than block the rest.
    const previous = await openSecret(key, endpoint.id, endpoint.previousSecret).catch(() => null)
    if (previous) secrets.push(previous)
  }
  return secrets
}

/** A receiver URL the deployment's policy accepts (normalized), or the refusal partners hear as a field error. */
const allowedWebhookUrl = (settings: Settings, url: string) => {
  const check = checkWebhookUrl(url, urlPolicyOf(settings))
  if (!check.ok) {
    throw fieldProblem('url', { code: 'url_not_allowed', message: check.message }, `url ${check.message}.`)
  }
  return check.url
}

const notFound = (id: string) =>
  new Problem('webhook_endpoint_not_found', { detail: `No webhook endpoint with id "${id}".` })

const mine = (owner: Owner, id: string) =>
  and(eq(webhookEndpoints.id, id), ownedBy(webhookEndpoints, owner), isNull(webhookEndpoints.deletedAt))

/** A new endpoint for the owner, its URL held to the deployment's policy; the secret is answered once. */
export const createEndpoint = async (
  db: Db,
  settings: Settings,
  owner: Owner,
  input: { url: string; event_types?: string[] | null; description?: string | null },
  now: number,
) => {
  const url = allowedWebhookUrl(settings, input.url)
  const id = newId('we', now)
  const secret = generateSecret()
  const [row] = await db
    .insert(webhookEndpoints)
    .values({
      id,
      partnerId: owner.id,
      mode: owner.mode,
      url,
      description: input.description ?? null,
      eventTypes: input.event_types ?? null,
      secret: await sealSecret(settings.ENCRYPTION_KEY, id, secret),
      createdAt: now,
      updatedAt: now,
    })
    .returning()
  return { endpoint: row!, secret }
}

export const getEndpoint = async (db: Db, owner: Owner, id: string) => {
  const [row] = await db.select().from(webhookEndpoints).where(mine(owner, id)).limit(1)
  if (!row) throw notFound(id)
  return row
}

/** Whether the partner ever had this endpoint (deleted ones included: a cursor may outlive its row). */
export const endpointExists = async (db: Db, owner: Owner, id: string) =>
  (
    await db
      .select({ id: webhookEndpoints.id })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.id, id), ownedBy(webhookEndpoints, owner)))
      .limit(1)
  ).length > 0

export const listEndpoints = async (db: Db, owner: Owner, limit: number, startingAfter?: string) => {
  const rows = await db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        ownedBy(webhookEndpoints, owner),
        isNull(webhookEndpoints.deletedAt),
        startingAfter ? lt(webhookEndpoints.id, startingAfter) : undefined,
      ),
    )
    .orderBy(desc(webhookEndpoints.id))
    .limit(limit + 1)
  return toPage(rows, limit)
}

/** Changes what the input names; a new URL is held to the deployment's policy first. */
export const updateEndpoint = async (
  db: Db,
  settings: Settings,
  owner: Owner,
  id: string,
  input: { url?: string; event_types?: string[] | null; description?: string | null; enabled?: boolean },
  now: number,
) => {
  const url = input.url === undefined ? undefined : allowedWebhookUrl(settings, input.url)
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      ...(url !== undefined ? { url } : {}),
      ...(input.event_types !== undefined ? { eventTypes: input.event_types } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      // Re-enabling clears why it was disabled and starts its failure clock afresh.
      ...(input.enabled === true ? { enabled: true, disabledReason: null, disabledAt: null, failingSince: null } : {}),
      ...(input.enabled === false ? { enabled: false, disabledReason: DISABLED_BY_PARTNER, disabledAt: now } : {}),
      updatedAt: now,
    })
    .where(mine(owner, id))
    .returning()
  if (!row) throw notFound(id)
  return row
}

/** Deleted endpoints keep their rows (delivery history) but never receive anything again. */
export const deleteEndpoint = async (db: Db, owner: Owner, id: string, now: number) => {
  const [row] = await db
    .update(webhookEndpoints)
    .set({ deletedAt: now, enabled: false, disabledReason: 'deleted', disabledAt: now, updatedAt: now })
    .where(mine(owner, id))
    .returning()
  if (!row) throw notFound(id)
  return row
}

/** A new secret; the old one keeps signing (alongside) for `graceSeconds`. */
export const rotateSecret = async (
  db: Db,
  key: string,
  owner: Owner,
  id: string,
  graceSeconds: number,
  now: number,
) => {
  const current = await getEndpoint(db, owner, id)
  const secret = generateSecret()
  // A second rotation inside the grace period (often a retry whose answer was lost) keeps the secret
  // receivers most likely still hold, the one before the first rotation, until its grace ends.
  const previousInGrace = current.previousSecret !== null && (current.previousSecretExpiresAt ?? 0) > now
  const [row] = await db
    .update(webhookEndpoints)
    .set({
      secret: await sealSecret(key, id, secret),
      ...(previousInGrace
        ? {}
        : { previousSecret: current.secret, previousSecretExpiresAt: now + graceSeconds * 1000 }),
      updatedAt: now,
    })
    .where(and(mine(owner, id), eq(webhookEndpoints.secret, current.secret)))
    .returning()
  // A concurrent rotation won; ours would have dropped its secret from the grace window.
  if (!row)
    throw new Problem('webhook_endpoint_busy', {
      detail: 'The secret was rotated concurrently; retry.',
      headers: { 'retry-after': '1' },
    })
  return { endpoint: row, secret }
}
