/**
 * Plain-text tables: first column left-aligned, the figures right-aligned so digits line up;
 * `textColumns` lists further columns of words (left-aligned too).
 */
export const table = (
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  textColumns: readonly number[] = [],
): string => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const left = new Set([0, ...textColumns])
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (left.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** Fixed decimals; `-` for a figure that does not exist (e.g. no direct equivalent of an op). */
export const fmt = (value: number | null | undefined, decimals = 2): string =>
  value === null || value === undefined || Number.isNaN(value) ? '-' : value.toFixed(decimals)

export const signed = (value: number | null | undefined, decimals = 2): string =>
  value === null || value === undefined || Number.isNaN(value)
    ? '-'
    : `${value >= 0 ? '+' : ''}${value.toFixed(decimals)}`

/** A total over `requests`, as µs per request, padded to line up (`npm run profile`'s tables). */
export const usPerRequest = (ms: number, requests: number) =>
  `${((1000 * ms) / requests).toFixed(0).padStart(5)} µs/req`
