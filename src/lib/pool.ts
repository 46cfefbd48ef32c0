/** Runs `task` over `items`, at most `size` at a time (a Worker keeps only 6 connections open at once). */
export const eachLimited = async <T>(
  items: readonly T[],
  size: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> => {
  let next = 0
  const worker = async () => {
    while (next < items.length) await task(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker))
}
