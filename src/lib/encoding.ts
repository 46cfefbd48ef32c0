const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))

export const toHex = (bytes: ArrayBuffer | Uint8Array): string => {
  let hex = ''
  for (const b of new Uint8Array(bytes)) hex += HEX[b]
  return hex
}

export const toBase64 = (bytes: ArrayBuffer | Uint8Array): string => {
  let binary = ''
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b)
  return btoa(binary)
}

export const toBase64Url = (bytes: ArrayBuffer | Uint8Array): string =>
  toBase64(bytes).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '')

export type Bytes = Uint8Array<ArrayBuffer>

export const fromBase64 = (text: string): Bytes => {
  const normalized = text.replaceAll('-', '+').replaceAll('_', '/')
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
