import { and, eq, gt, isNull, or, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { apiKeys, partners } from '../../db/schema'
import type { Settings } from '../env'
import type { PartnerContext, SealedConnection } from './context'

/** The partner behind a key hash, with its limits and connections, in one statement. */
export const loadPartnerByKeyHash = async (
  db: Db,
  hash: string,
  now: number,
  settings: Settings,
): Promise<PartnerContext | null> => {
  const [row] = await db
    .select({
      keyId: apiKeys.id,
      keyMode: apiKeys.mode,
      keyExpiresAt: apiKeys.expiresAt,
      partner: partners,
      connections: sql<string>`(
        SELECT json_group_array(json_object('id', c.id, 'provider', c.provider, 'baseUrl', c.base_url,
          'credentials', c.credentials, 'settings', json(c.settings)))
        FROM provider_connections c WHERE c.partner_id = ${partners.id})`,
    })
    .from(apiKeys)
    .innerJoin(partners, eq(partners.id, apiKeys.partnerId))
    .where(
      and(
        eq(apiKeys.hash, hash),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)),
      ),
    )
    .limit(1)
  if (!row) return null
  const connections = JSON.parse(row.connections) as SealedConnection[]
  return {
    id: row.partner.id,
    name: row.partner.name,
    keyId: row.keyId,
    keyMode: row.keyMode,
    keyExpiresAt: row.keyExpiresAt,
    limits: {
      resendLimit: row.partner.resendLimit ?? settings.RESEND_LIMIT,
      resendCooldownMs: (row.partner.resendCooldownSeconds ?? settings.RESEND_COOLDOWN_SECONDS) * 1000,
      confirmAttempts: row.partner.confirmAttempts ?? settings.CONFIRM_ATTEMPTS,
    },
    connections: Object.fromEntries(connections.map((c) => [c.provider, c])),
  }
}
