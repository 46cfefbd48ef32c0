import { z } from '@hono/zod-openapi'

// sFOX takes amounts as JSON numbers (IEEE doubles): 15 significant digits are carried exactly, so
// the API refuses more rather than let the provider receive a different number than the partner sent.
const MAX_SIGNIFICANT_DIGITS = 15
const DECIMAL = /^(\d+)(?:\.(\d+))?$/

/** "000.1000" → "0.1"; null when the text is not a plain positive decimal. */
export const normalizeDecimal = (text: string): string | null => {
  const match = DECIMAL.exec(text)
  if (!match) return null
  const whole = match[1]!.replace(/^0+(?=\d)/, '')
  const fraction = (match[2] ?? '').replace(/0+$/, '')
  return fraction ? `${whole}.${fraction}` : whole
}

/** "1e-7" → "0.0000001": JavaScript writes small and large numbers with an exponent. */
export const expandExponent = (text: string): string => {
  const match = /^(\d+)(?:\.(\d+))?e([+-]?\d+)$/i.exec(text)
  if (!match) return text
  const digits = match[1]! + (match[2] ?? '')
  const point = match[1]!.length + Number(match[3])
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length)
  return `${digits.slice(0, point)}.${digits.slice(point)}`
}

const significantDigits = (normalized: string) =>
  normalized.replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length

export const PositiveDecimal = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    // Numbers are read through their shortest round-trip text, so 0.1 stays "0.1".
    const text =
      typeof value === 'number' ? (Number.isFinite(value) ? expandExponent(String(value)) : '') : value.trim()
    const normalized = normalizeDecimal(text)
    if (normalized === null || /^0(\.0*)?$/.test(normalized)) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive decimal number, e.g. "0.25"' })
      return z.NEVER
    }
    if (normalized.split('.')[0]!.length > MAX_SIGNIFICANT_DIGITS) {
      ctx.addIssue({ code: 'custom', message: 'must be below 10^15' })
      return z.NEVER
    }
    if (significantDigits(normalized) > MAX_SIGNIFICANT_DIGITS) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${MAX_SIGNIFICANT_DIGITS} significant digits` })
      return z.NEVER
    }
    return normalized
  })
  .openapi({
    type: 'string',
    description:
      'A positive decimal as a string (numbers are accepted too); at most 15 significant digits. Always returned as a string.',
    example: '0.25',
  })
