/** Epoch milliseconds as the API writes times (ISO 8601, UTC); null stays null. */
export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())
