import { fromBase64 } from '../../lib/encoding'

// QI's own instructions make keys with `openssl ecparam -genkey`, which writes SEC1
// ("BEGIN EC PRIVATE KEY"); WebCrypto imports only PKCS#8. Wrapping SEC1 in a PKCS#8 envelope is a
// fixed DER prefix for P-521, so both forms are accepted.

const derLength = (length: number): number[] =>
  length < 0x80 ? [length] : length < 0x100 ? [0x81, length] : [0x82, length >> 8, length & 0xff]

const der = (tag: number, content: number[]): number[] => [tag, ...derLength(content.length), ...content]

const EC_PUBLIC_KEY_OID = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
const SECP521R1_OID = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23]

const pemBody = (pem: string, label: string): Uint8Array | null => {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(pem)
  if (!match) return null
  try {
    return fromBase64(match[1]!.replace(/\s+/g, ''))
  } catch {
    return null
  }
}

const toPem = (bytes: number[], label: string) => {
  const base64 = btoa(String.fromCharCode(...bytes))
  return `-----BEGIN ${label}-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`
}

/** A P-521 private key as PKCS#8 PEM, from PKCS#8 or SEC1 PEM; null if it is neither. */
export const toPkcs8Pem = (pem: string): string | null => {
  if (pemBody(pem, 'PRIVATE KEY')) return `${pem.trim()}\n`
  const sec1 = pemBody(pem, 'EC PRIVATE KEY')
  if (!sec1) return null
  const info = der(0x30, [
    ...der(0x02, [0x00]),
    ...der(0x30, [...EC_PUBLIC_KEY_OID, ...SECP521R1_OID]),
    ...der(0x04, [...sec1]),
  ])
  return toPem(info, 'PRIVATE KEY')
}
