import { desc, eq, lt, sql } from 'drizzle-orm'
import type { Db } from '../../db/client'
import { partners } from '../../db/schema'
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

export const partnerExists = async (db: Db, id: string) =>
  (await db.select({ one: sql`1` }).from(partners).where(eq(partners.id, id)).limit(1)).length > 0
