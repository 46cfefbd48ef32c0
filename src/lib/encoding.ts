// The runtime's own base64 and hex (TC39 "Uint8Array to/from base64", in workerd) where it has them:
// a QI call encodes and decodes several JWT segments, and native code does that a few times faster
// than a loop in JavaScript. Runtimes without them (Node 20, which runs the unit tests) take the loops.
type NativeCodecs = {
  toBase64(options?: { alphabet?: 'base64' | 'base64url'; omitPadding?: boolean }): string
  toHex(): string
}
const nativeEncoding = typeof (Uint8Array.prototype as Partial<NativeCodecs>).toBase64 === 'function'
const NativeUint8Array = Uint8Array as { fromBase64?: (text: string) => Uint8Array<ArrayBuffer> }

const bytesOf = (bytes: ArrayBuffer | Uint8Array) => (bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes))
const codecs = (bytes: ArrayBuffer | Uint8Array) => bytesOf(bytes) as unknown as NativeCodecs

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

export const toHex = (bytes: ArrayBuffer | Uint8Array): string => {
  if (nativeEncoding) return codecs(bytes).toHex()
  let hex = ''
  for (const b of bytesOf(bytes)) hex += HEX[b]
  return hex
}

export const toBase64 = (bytes: ArrayBuffer | Uint8Array): string => {
  if (nativeEncoding) return codecs(bytes).toBase64()
  let binary = ''
  for (const b of bytesOf(bytes)) binary += String.fromCharCode(b)
  return btoa(binary)
}

export const toBase64Url = (bytes: ArrayBuffer | Uint8Array): string =>
  nativeEncoding
    ? codecs(bytes).toBase64({ alphabet: 'base64url', omitPadding: true })
    : toBase64(bytes).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')

export type Bytes = Uint8Array<ArrayBuffer>

/** Standard or URL-safe base64, padded or not; throws on anything else. */
export const fromBase64 = (text: string): Bytes => {
  const normalized = text.replaceAll('-', '+').replaceAll('_', '/')
  if (NativeUint8Array.fromBase64) return NativeUint8Array.fromBase64(normalized)
  const binary = atob(normalized + '='.repeat((4 - (normalized.length % 4)) % 4))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
export const utf8 = (text: string): Bytes => encoder.encode(text) as Bytes

/** UTF-8 bytes as text; throws on bytes that are not UTF-8. */
export const fromUtf8 = (bytes: Uint8Array): string => decoder.decode(bytes)
