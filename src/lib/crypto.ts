import { type Bytes, fromBase64, toBase64Url, toHex, utf8 } from './encoding'

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Uniform base62 characters (rejection sampling keeps every character equally likely). */
export const randomBase62 = (length: number): string => {
  let out = ''
  while (out.length < length) {
    // getRandomValues gives at most 64 KiB per call.
    for (const byte of crypto.getRandomValues(new Uint8Array(Math.min(65_536, (length - out.length) * 2)))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62]
    }
  }
  return out
}

export const randomBytes = (length: number): Bytes => crypto.getRandomValues(new Uint8Array(length))

export const sha256Hex = async (data: string | Bytes): Promise<string> =>
  toHex(await crypto.subtle.digest('SHA-256', typeof data === 'string' ? utf8(data) : data))

// Imported keys are cached per isolate: importKey on every request would cost CPU for nothing.
const hmacKeys = new Map<string, Promise<CryptoKey>>()
const hmacKey = (secret: string) => {
  let key = hmacKeys.get(secret)
  if (!key) {
    key = crypto.subtle.importKey('raw', utf8(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
    hmacKeys.set(secret, key)
  }
  return key
}

export const hmacSha256 = async (secret: string, data: string | Bytes): Promise<Bytes> =>
  new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), typeof data === 'string' ? utf8(data) : data))

/** HMAC under raw key bytes (webhook secrets are bytes, not text). */
export const hmacSha256Raw = async (key: Bytes, data: string): Promise<Bytes> => {
  const imported = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', imported, utf8(data)))
}

export const hmacSha256Hex = async (secret: string, data: string): Promise<string> =>
  toHex(await hmacSha256(secret, data))

/**
 * Compares two secrets in constant time: both are reduced to HMACs of equal length first, so
 * neither the content nor the length of the expected value leaks through timing.
 */
export const secretsEqual = async (given: string, expected: string): Promise<boolean> => {
  const key = 'secrets-equal'
  const [a, b] = await Promise.all([hmacSha256(key, given), hmacSha256(key, expected)])
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

const aesKeys = new Map<string, Promise<CryptoKey>>()
const aesKey = (base64Key: string) => {
  let key = aesKeys.get(base64Key)
  if (!key) {
    const raw = fromBase64(base64Key)
    if (raw.length !== 32) throw new Error('ENCRYPTION_KEY must be 32 bytes, base64-encoded')
    key = crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
    aesKeys.set(base64Key, key)
  }
  return key
}

/**
 * AES-256-GCM with a random 96-bit IV. `context` is bound as additional data so a ciphertext copied
 * to another row (another partner or provider) fails to decrypt. Format: `v1.<iv>.<ciphertext>`.
 */
export const encryptJson = async (base64Key: string, context: string, value: unknown): Promise<string> => {
  const iv = randomBytes(12)
  const ciphertext = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: utf8(context) },
    await aesKey(base64Key),
    utf8(JSON.stringify(value)),
  )
  return `v1.${toBase64Url(iv)}.${toBase64Url(ciphertext)}`
}

export const decryptJson = async <T>(base64Key: string, context: string, sealed: string): Promise<T> => {
  const [version, iv, ciphertext] = sealed.split('.')
  if (version !== 'v1' || !iv || !ciphertext) throw new Error('unknown ciphertext format')
  const plaintext = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: fromBase64(iv), additionalData: utf8(context) },
    await aesKey(base64Key),
    fromBase64(ciphertext),
  )
  return JSON.parse(new TextDecoder().decode(plaintext)) as T
}
