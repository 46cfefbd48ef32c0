// IP addresses and CIDR ranges (IPv4 and IPv6), pure: parse strictly, normalise, match.
// Every address is held as 16 bytes; an IPv4 address is its IPv4-mapped IPv6 form (::ffff:a.b.c.d),
// so an IPv4 range matches a client that reports an IPv4-mapped IPv6 address, and the reverse.

export type Cidr = { bytes: Uint8Array; prefix: number }

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]

/** Dotted quad, four decimal octets 0–255, no leading zeros (010 could be read as octal elsewhere). */
const parseIpv4 = (text: string): number[] | null => {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  const octets: number[] = []
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null
    const n = Number(part)
    if (n > 255) return null
    octets.push(n)
  }
  return octets
}

/** RFC 4291 text forms: eight groups, one `::`, an IPv4 tail. No zone ids (`%eth0`), no brackets. */
const parseIpv6 = (text: string): Uint8Array | null => {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return null
  const halves = text.split('::')
  if (halves.length > 2) return null
  const groupsOf = (half: string): number[] | null => {
    if (half === '') return []
    const words: number[] = []
    const parts = half.split(':')
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part)
        if (!v4) return null
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(part)) return null
        words.push(Number.parseInt(part, 16))
      }
    }
    return words
  }
  const head = groupsOf(halves[0]!)
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : []
  if (!head || !tail) return null
  // An IPv4 tail is only allowed at the very end.
  if (halves.length === 2 && halves[0]!.includes('.')) return null
  let words: number[]
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length
    if (missing < 1) return null
    words = [...head, ...new Array<number>(missing).fill(0), ...tail]
  } else {
    words = head
  }
  if (words.length !== 8) return null
  const bytes = new Uint8Array(16)
  words.forEach((w, i) => {
    bytes[i * 2] = w >> 8
    bytes[i * 2 + 1] = w & 0xff
  })
  return bytes
}

const isMapped = (bytes: Uint8Array) => MAPPED_PREFIX.every((b, i) => bytes[i] === b)

/** An address (IPv4 or IPv6) as 16 bytes, IPv4 mapped into IPv6; null when it is not one. */
export const parseIp = (text: string): Uint8Array | null => {
  if (text.includes(':')) return parseIpv6(text)
  const v4 = parseIpv4(text)
  return v4 ? Uint8Array.from([...MAPPED_PREFIX, ...v4]) : null
}

const maskTo = (bytes: Uint8Array, prefix: number) => {
  const out = new Uint8Array(16)
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8))
    out[i] = bytes[i]! & ((0xff << (8 - bits)) & 0xff)
  }
  return out
}

/**
 * A range `address/prefix` (or a bare address: one host). IPv4 prefixes are 0–32, IPv6 0–128;
 * host bits are cleared (10.1.2.3/8 is 10.0.0.0/8). Null when it is not a valid range.
 */
export const parseCidr = (text: string): Cidr | null => {
  if (typeof text !== 'string' || text.length > 64) return null
  const slash = text.indexOf('/')
  const address = slash === -1 ? text : text.slice(0, slash)
  const prefixText = slash === -1 ? null : text.slice(slash + 1)
  const bytes = parseIp(address)
  if (!bytes) return null
  const v4 = !address.includes(':')
  const max = v4 ? 32 : 128
  let prefix = max
  if (prefixText !== null) {
    if (!/^(0|[1-9]\d{0,2})$/.test(prefixText)) return null
    prefix = Number(prefixText)
    if (prefix > max) return null
  }
  const full = v4 ? prefix + 96 : prefix
  return { bytes: maskTo(bytes, full), prefix: full }
}

const formatIpv6 = (bytes: Uint8Array): string => {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[i * 2]! << 8) | bytes[i * 2 + 1]!)
  // RFC 5952: the longest run (the first of equals) of two or more zero groups becomes `::`.
  let best = { start: -1, length: 0 }
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > best.length) best = { start: i, length: j - i }
    i = j
  }
  const hex = words.map((w) => w.toString(16))
  if (best.length < 2) return hex.join(':')
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`
}

/**
 * The canonical text of a range: IPv4 dotted (an IPv4-mapped IPv6 range of /96 or longer is written
 * as the IPv4 range it is), IPv6 lowercase and compressed (RFC 5952), always with a prefix.
 */
export const formatCidr = ({ bytes, prefix }: Cidr): string =>
  isMapped(bytes) && prefix >= 96
    ? `${Array.from(bytes.slice(12)).join('.')}/${prefix - 96}`
    : `${formatIpv6(bytes)}/${prefix}`

/** The canonical form of a range, or null when it is not one. */
export const normaliseCidr = (text: string): string | null => {
  const cidr = parseCidr(text)
  return cidr ? formatCidr(cidr) : null
}

const contains = (range: Cidr, address: Uint8Array) => {
  const whole = range.prefix >> 3
  for (let i = 0; i < whole; i++) if (range.bytes[i] !== address[i]) return false
  const bits = range.prefix & 7
  if (bits === 0) return true
  const mask = (0xff << (8 - bits)) & 0xff
  return (address[whole]! & mask) === range.bytes[whole]
}

/**
 * A matcher for a list of ranges (parsed once): true when the address is inside any of them. An
 * address that does not parse (or is missing) is never inside; unparsable ranges are skipped.
 */
export const cidrMatcher = (ranges: readonly string[]): ((address: string | null | undefined) => boolean) => {
  const parsed = ranges.map(parseCidr).filter((r): r is Cidr => r !== null)
  return (address) => {
    if (!address) return false
    const bytes = parseIp(address.trim())
    return bytes !== null && parsed.some((range) => contains(range, bytes))
  }
}
