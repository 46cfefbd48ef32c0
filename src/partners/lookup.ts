import { and, eq, gt, isNull, or, type SQL, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { apiKeys, type Partner, partners, portalSessions } from '../../db/schema'
import type { Settings } from '../lib/settings'
import type { SealedConnection } from '../providers/provider'
import type { Mode } from '../schemas/common'
import type { PartnerContext } from '../services'

// The partner's connections ride along as one JSON column, so a lookup is a single statement.
// (Qualified by hand: drizzle leaves a column unqualified when one table is selected from, and a bare
// "id" inside the subquery would mean the connection's.)
// Only the connections of the request's mode: a test key can never reach a live connection.
const connectionsColumn = (mode: SQL) => sql<string>`(
  SELECT json_group_array(json_object('id', c.id, 'provider', c.provider, 'baseUrl', c.base_url,
    'credentials', c.credentials, 'settings', json(c.settings)))
  FROM provider_connections c WHERE c.partner_id = "partners"."id" AND c.mode = ${mode})`

// Built once: the auth lookup runs on every cache miss.
const connectionsOfKeyMode = connectionsColumn(sql`"api_keys"."mode"`)

const contextOf = (
  partner: Partner,
  connections: string,
  mode: Mode,
  key: PartnerContext['key'],
  settings: Settings,
): PartnerContext => ({
  id: partner.id,
  name: partner.name,
  mode,
  key,
  limits: {
    resendLimit: partner.resendLimit ?? settings.RESEND_LIMIT,
    resendCooldownMs: (partner.resendCooldownSeconds ?? settings.RESEND_COOLDOWN_SECONDS) * 1000,
    confirmAttempts: partner.confirmAttempts ?? settings.CONFIRM_ATTEMPTS,
    rateLimit: partner.rateLimit ?? settings.RATE_LIMIT,
  },
  connections: Object.fromEntries((JSON.parse(connections) as SealedConnection[]).map((c) => [c.provider, c])),
})

/**
 * Who a live (not revoked, not expired) key hash speaks for: the partner with limits and connections,
 * what the key may do, and where the partner's calls may come from (null: anywhere).
 */
export const loadPartnerByKeyHash = async (db: Db, hash: string, now: number, settings: Settings) => {
  const [row] = await db
    .select({ key: apiKeys, partner: partners, connections: connectionsOfKeyMode })
    .from(apiKeys)
    .innerJoin(partners, eq(partners.id, apiKeys.partnerId))
    .where(
      and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now))),
    )
    .limit(1)
  if (!row) return null
  return {
    partner: contextOf(
      row.partner,
      row.connections,
      row.key.mode,
      { id: row.key.id, prefix: row.key.prefix, mode: row.key.mode, expiresAt: row.key.expiresAt },
      settings,
    ),
    access: row.key.access,
    ipAllowlist: row.partner.ipAllowlist ?? null,
  }
}

/** The partner an object belongs to, in that object's mode, for work no partner request started (webhooks, cron). */
export const loadPartnerById = async (db: Db, id: string, mode: Mode, settings: Settings) => {
  const [row] = await db
    .select({ partner: partners, connections: connectionsColumn(sql`${mode}`) })
    .from(partners)
    .where(eq(partners.id, id))
    .limit(1)
  return row ? contextOf(row.partner, row.connections, mode, null, settings) : null
}

/** The partner behind an open portal session (by its cookie's keyed hash), in the session's mode: one statement. */
export const loadPartnerByPortalSession = async (db: Db, sessionHash: string, now: number, settings: Settings) => {
  const [row] = await db
    .select({
      session: portalSessions,
      partner: partners,
      connections: connectionsColumn(sql`"portal_sessions"."mode"`),
    })
    .from(portalSessions)
    .innerJoin(partners, eq(partners.id, portalSessions.partnerId))
    .where(
      and(
        eq(portalSessions.sessionHash, sessionHash),
        isNull(portalSessions.revokedAt),
        gt(portalSessions.expiresAt, now),
      ),
    )
    .limit(1)
  return row
    ? {
        session: row.session,
        partner: contextOf(row.partner, row.connections, row.session.mode, null, settings),
        ipAllowlist: row.partner.ipAllowlist ?? null,
      }
    : null
}
