import { and, eq, gt, isNull } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { ownedBy } from '../../db/owned'
import { portalSessions } from '../../db/schema'
import { hmacSha256Hex, randomBase62 } from '../lib/crypto'
import { newId } from '../lib/ids'
import type { Settings } from '../lib/settings'
import type { Owner } from '../services'
import { loadPartnerByPortalSession } from './lookup'
import { getPartner } from './partners'

/** A login link lives minutes; the browser session it opens lives hours. */
export const PORTAL_LINK_SECONDS = { default: 600, max: 3600 }
export const PORTAL_SESSION_SECONDS = 8 * 3600

// Keyed hashes only: neither the link's token nor the cookie's value is ever stored.
const loginHashOf = (secret: string, token: string) => hmacSha256Hex(secret, `portal-login:${token}`)
const sessionHashOf = (secret: string, value: string) => hmacSha256Hex(secret, `portal-session:${value}`)

/** Mints a single-use login link's token for one partner and mode; the token is returned once. */
export const mintPortalSession = async (
  db: Db,
  secret: string,
  owner: Owner,
  input: { return_url?: string; ttl_seconds?: number },
  now: number,
) => {
  await getPartner(db, owner.id)
  const token = randomBase62(43)
  const ttl = Math.min(input.ttl_seconds ?? PORTAL_LINK_SECONDS.default, PORTAL_LINK_SECONDS.max)
  const [row] = await db
    .insert(portalSessions)
    .values({
      id: newId('ps', now),
      partnerId: owner.id,
      mode: owner.mode,
      loginHash: await loginHashOf(secret, token),
      loginExpiresAt: now + ttl * 1000,
      returnUrl: input.return_url ?? null,
      createdAt: now,
    })
    .returning()
  return { row: row!, token }
}

/**
 * Opens the browser session a login link stands for, once: the conditional update lets exactly one
 * of two racing clicks through. Returns the cookie's value (shown once) and the session, or null.
 */
/** The login link a token names, while it is unused, unrevoked and unexpired. */
const usableLink = async (secret: string, token: string, now: number) =>
  and(
    eq(portalSessions.loginHash, await loginHashOf(secret, token)),
    isNull(portalSessions.usedAt),
    isNull(portalSessions.revokedAt),
    gt(portalSessions.loginExpiresAt, now),
  )

/** The unused, unexpired login link a token names (who is signing in), without opening it. */
export const findLoginLink = async (db: Db, secret: string, token: string, now: number) => {
  const [row] = await db
    .select({ id: portalSessions.id, partnerId: portalSessions.partnerId, mode: portalSessions.mode })
    .from(portalSessions)
    .where(await usableLink(secret, token, now))
    .limit(1)
  return row ?? null
}

export const openPortalSession = async (db: Db, secret: string, token: string, now: number) => {
  const cookie = randomBase62(43)
  const [row] = await db
    .update(portalSessions)
    .set({
      usedAt: now,
      sessionHash: await sessionHashOf(secret, cookie),
      expiresAt: now + PORTAL_SESSION_SECONDS * 1000,
    })
    .where(await usableLink(secret, token, now))
    .returning()
  return row ? { cookie, session: row } : null
}

/** The open, unexpired, unrevoked session a cookie names, with its partner in its mode (one round trip). */
export const findPortalSession = async (db: Db, secret: string, cookie: string, now: number, settings: Settings) =>
  loadPartnerByPortalSession(db, await sessionHashOf(secret, cookie), now, settings)

/** Ends every session and unused link of the partner (in one mode, or both); returns how many. */
export const revokePortalSessions = async (db: Db, partnerId: string, mode: Owner['mode'] | undefined, now: number) => {
  await getPartner(db, partnerId)
  const rows = await db
    .update(portalSessions)
    .set({ revokedAt: now })
    .where(
      and(
        mode ? ownedBy(portalSessions, { id: partnerId, mode }) : eq(portalSessions.partnerId, partnerId),
        isNull(portalSessions.revokedAt),
      ),
    )
    .returning({ id: portalSessions.id })
  return rows.length
}

/** The CSRF token of a session's forms: keyed to the session, so it is useless with any other. */
export const csrfTokenOf = (secret: string, sessionId: string) => hmacSha256Hex(secret, `portal-csrf:${sessionId}`)

/** Signs one browser session out. */
export const endPortalSession = async (db: Db, sessionId: string, now: number) =>
  db
    .update(portalSessions)
    .set({ revokedAt: now })
    .where(and(eq(portalSessions.id, sessionId), isNull(portalSessions.revokedAt)))
