/** Latency figures of one phase. Times in milliseconds. */
export type Summary = {
  count: number
  elapsedMs: number
  opsPerSec: number
  p50: number
  p99: number
  mean: number
  min: number
  max: number
}

/** Nearest-rank percentile of an ascending array: always a latency that was really observed. */
export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

export const summarize = (latenciesMs: readonly number[], elapsedMs: number): Summary => {
  const sorted = [...latenciesMs].sort((a, b) => a - b)
  const count = sorted.length
  return {
    count,
    elapsedMs,
    opsPerSec: elapsedMs > 0 ? (count * 1000) / elapsedMs : Number.NaN,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: count ? sorted.reduce((s, x) => s + x, 0) / count : Number.NaN,
    min: sorted[0] ?? Number.NaN,
    max: sorted[count - 1] ?? Number.NaN,
  }
}
