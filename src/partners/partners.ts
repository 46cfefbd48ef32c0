import { desc, eq, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { partners } from '../../db/schema'
import { normaliseCidr } from '../lib/cidr'
import { newId } from '../lib/ids'
import { toPage } from '../lib/page'
import { Problem } from '../lib/problem'

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

/** The most ranges a partner's IP allowlist holds. */
export const MAX_ALLOWLIST_ENTRIES = 100

/**
 * A partner's IP allowlist as stored: each range validated and normalised (10.1.2.3/8 → 10.0.0.0/8,
 * a bare address → /32 or /128, IPv6 compressed), duplicates dropped, order kept. Every entry that is
 * not a range is named in one 422.
 */
export const normaliseAllowlist = (list: readonly string[]): string[] => {
  const errors: { field: string; pointer: string; code: string; message: string }[] = []
  const out: string[] = []
  list.forEach((entry, i) => {
    const cidr = normaliseCidr(entry.trim())
    if (cidr === null) {
      errors.push({
        field: `ip_allowlist.${i}`,
        pointer: `/ip_allowlist/${i}`,
        code: 'invalid_cidr',
        message: 'must be an IPv4 or IPv6 address or CIDR range (e.g. 203.0.113.0/24, 2001:db8::/32)',
      })
    } else if (!out.includes(cidr)) out.push(cidr)
  })
  if (errors.length > 0) {
    throw new Problem('invalid_request', {
      detail: `The request body is invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
      extensions: { errors },
    })
  }
  return out
}

const allowlistColumn = (input: { ip_allowlist?: string[] | null }) =>
  input.ip_allowlist === undefined
    ? {}
    : { ipAllowlist: input.ip_allowlist === null ? null : normaliseAllowlist(input.ip_allowlist) }

const partnerNotFound = (id: string) => new Problem('partner_not_found', { detail: `No partner with id "${id}".` })

export type PartnerAccess = { ip_allowlist?: string[] | null }

// Each write is one statement run as a batch, so what a later audit log records can join the same batch.
export const createPartner = async (db: Db, input: { name: string } & PartnerLimits & PartnerAccess, now: number) => {
  const values = {
    id: newId('ptn', now),
    name: input.name,
    ...limitColumns(input),
    ...allowlistColumn(input),
    createdAt: now,
    updatedAt: now,
  }
  const [[row]] = await db.batch([db.insert(partners).values(values).returning()])
  return row!
}

export const getPartner = async (db: Db, id: string) => {
  const [row] = await db.select().from(partners).where(eq(partners.id, id)).limit(1)
  if (!row) throw partnerNotFound(id)
  return row
}

/** Changes the name, limits or IP allowlist; an allowlist change reaches auth within API_KEY_CACHE_SECONDS. */
export const updatePartner = async (
  db: Db,
  id: string,
  input: { name?: string } & PartnerLimits & PartnerAccess,
  now: number,
) => {
  const changes = {
    ...(input.name ? { name: input.name } : {}),
    ...limitColumns(input),
    ...allowlistColumn(input),
    updatedAt: now,
  }
  const [[row]] = await db.batch([db.update(partners).set(changes).where(eq(partners.id, id)).returning()])
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

export const partnerExists = async (db: Db, id: string) =>
  (await db.select({ one: sql`1` }).from(partners).where(eq(partners.id, id)).limit(1)).length > 0
