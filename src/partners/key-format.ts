import { hmacSha256Hex, randomBase62 } from '../lib/crypto'

export type KeyMode = 'test' | 'live'

export type { KeyAccess } from '../schemas/partners'

// tgw_<mode>_ + 32 base62 characters (~190 bits): long enough that a keyed hash needs no salt.
export const API_KEY_PATTERN = /^tgw_(test|live)_[A-Za-z0-9]{32}$/

export const generateApiKey = (mode: KeyMode): string => `tgw_${mode}_${randomBase62(32)}`

/** What is kept to tell keys apart: the mode and the first 4 random characters. */
export const displayPrefix = (key: string): string => key.slice(0, key.indexOf('_', 4) + 5)

/** Keys are stored only as HMAC-SHA256 under API_KEY_SECRET, so a database leak reveals no key. */
export const hashApiKey = (secret: string, key: string): Promise<string> => hmacSha256Hex(secret, key)
