// Time-ordered ids (ULID layout: 48-bit milliseconds + 80 random bits, Crockford base32), so
// "newest first" is an index scan on the id and ids never collide across isolates.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

let lastTime = -1
let lastRandom = new Uint8Array(10)

const encodeTime = (time: number): string => {
  let out = ''
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[time % 32] + out
    time = Math.floor(time / 32)
  }
  return out
}

const encodeRandom = (bytes: Uint8Array): string => {
  let out = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(buffer >> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return out
}

/** Within one millisecond the random part is incremented, keeping ids of one isolate strictly ordered. */
const nextRandom = (time: number): Uint8Array => {
  if (time === lastTime) {
    const next = lastRandom.slice()
    for (let i = next.length - 1; i >= 0; i--) {
      if (next[i]! < 255) {
        next[i] = next[i]! + 1
        break
      }
      next[i] = 0
    }
    lastRandom = next
  } else {
    lastTime = time
    lastRandom = crypto.getRandomValues(new Uint8Array(10))
  }
  return lastRandom
}

export const newId = (prefix: string, now = Date.now()): string =>
  `${prefix}_${encodeTime(now)}${encodeRandom(nextRandom(now))}`.toLowerCase()

/**
 * Whether `id` has the shape newId gives ids of `prefix`: a position in time order, whether or not
 * it still exists.
 */
export const isIdOf = (prefix: string, id: string): boolean =>
  id.startsWith(`${prefix}_`) && /^[0-9a-hjkmnp-tv-z]{26}$/.test(id.slice(prefix.length + 1))
