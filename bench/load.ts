/** What one phase produced: per-op latencies (ms) in op order, and the wall time of the whole phase. */
export type Sample = { latencies: number[]; elapsedMs: number }

/**
 * Runs `op(0..count-1)` with at most `concurrency` in flight (closed loop: each worker starts its
 * next op when the previous one answered), timing each op from the caller's side. An op throws on
 * an unexpected answer, which aborts the bench: a benchmark that quietly times errors lies.
 */
export const runConcurrent = async (
  count: number,
  concurrency: number,
  op: (i: number) => Promise<void>,
): Promise<Sample> => {
  const latencies = new Array<number>(count)
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < count) {
      const i = next++
      const started = performance.now()
      try {
        await op(i)
      } catch (error) {
        failed = true
        throw error
      }
      latencies[i] = performance.now() - started
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker))
  return { latencies, elapsedMs: performance.now() - started }
}

/** Runs both sides of a comparison, which goes first alternating round by round, so drift hits both alike. */
export const bothInTurn = async (round: number, a: () => Promise<unknown>, b: () => Promise<unknown>) => {
  const [first, second] = round % 2 === 0 ? [a, b] : [b, a]
  await first()
  await second()
}
