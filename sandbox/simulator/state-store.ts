import type { Client } from '@libsql/client/web'

/** A simulated provider whose state the simulator keeps (the first label of the request's host). */
export type SimulatedProvider = 'sfox' | 'qi'

/** One partner's state of one provider as stored: a JSON document and the version it was read at. */
export type StateRow = { state: string; version: number }

// The table is db/schema.ts's `simulatorState` (migration 0008); plain SQL keeps drizzle out of this Worker.

export const loadState = async (
  db: Client,
  partnerId: string,
  provider: SimulatedProvider,
): Promise<StateRow | undefined> => {
  const { rows } = await db.execute({
    sql: 'SELECT state, version FROM simulator_state WHERE partner_id = ? AND provider = ?',
    args: [partnerId, provider],
  })
  const row = rows[0]
  return row ? { state: String(row.state), version: Number(row.version) } : undefined
}

/**
 * Saves `state` only if the row is still as it was read (`read`: undefined for a row that did not exist).
 * False means another request saved first: the caller's work is stale and must be redone from a fresh load.
 */
export const saveState = async (
  db: Client,
  partnerId: string,
  provider: SimulatedProvider,
  state: string,
  read: StateRow | undefined,
  now = Date.now(),
): Promise<boolean> => {
  const result = read
    ? await db.execute({
        sql: `UPDATE simulator_state SET state = ?, version = version + 1, updated_at = ?
              WHERE partner_id = ? AND provider = ? AND version = ?`,
        args: [state, now, partnerId, provider, read.version],
      })
    : await db.execute({
        sql: `INSERT INTO simulator_state (partner_id, provider, state, version, updated_at) VALUES (?, ?, ?, 1, ?)
              ON CONFLICT (partner_id, provider) DO NOTHING`,
        args: [partnerId, provider, state, now],
      })
  return result.rowsAffected === 1
}
