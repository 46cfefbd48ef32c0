import { and, type Column, eq } from 'drizzle-orm'

/** Rows of one partner in one mode (test and live never see each other's rows). */
export const ownedBy = (table: { partnerId: Column; mode: Column }, owner: { id: string; mode: string }) =>
  and(eq(table.partnerId, owner.id), eq(table.mode, owner.mode))
