import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { importPKCS8, importSPKI } from 'jose'

/** EC P-521 (secp521r1) keys as PEM: SPKI for the public key, PKCS#8 for the private key. */
export type KeyPairPem = { privateKeyPem: string; publicKeyPem: string }

export const generateP521KeyPair = (): KeyPairPem => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'secp521r1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  })
  return { privateKeyPem: privateKey, publicKeyPem: publicKey }
}

// Parsed keys are cached by PEM, so every sign/verify after the first skips parsing and importing.
const publicKeys = new Map<string, KeyObject>()
const privateKeys = new Map<string, KeyObject>()
const verifyingKeys = new Map<string, CryptoKey>()
const signingKeys = new Map<string, CryptoKey>()

const assertP521 = (key: KeyObject): KeyObject => {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp521r1')
    throw new Error('key must be an EC P-521 (secp521r1) key')
  return key
}

/** Parses an SPKI ("PUBLIC KEY") PEM; throws (without echoing the PEM) unless it is an EC P-521 public key. */
export const publicKeyObject = (pem: string): KeyObject => {
  const cached = publicKeys.get(pem)
  if (cached) return cached
  // createPublicKey would also derive a public key from a private PEM; a private key is never accepted here.
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) throw new Error('public_key_pem must be a "PUBLIC KEY" (SPKI) PEM')
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch {
    throw new Error('public_key_pem could not be parsed')
  }
  publicKeys.set(pem, assertP521(key))
  return key
}

/** Parses a PKCS#8 or SEC1 ("EC PRIVATE KEY") PEM; throws unless it is an EC P-521 private key. */
export const privateKeyObject = (pem: string): KeyObject => {
  const cached = privateKeys.get(pem)
  if (cached) return cached
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch {
    throw new Error('private key PEM could not be parsed')
  }
  privateKeys.set(pem, assertP521(key))
  return key
}

/**
 * The WebCrypto ES512 keys jose signs and verifies with. Not node KeyObjects: jose cannot use those in workerd (the
 * simulator Worker runs this code). Validated as P-521 by the parsers above first; only the resolved key is
 * cached (a pending promise must not be shared between a Worker's requests).
 */
export const signingKey = async (privateKeyPem: string): Promise<CryptoKey> => {
  const cached = signingKeys.get(privateKeyPem)
  if (cached) return cached
  // SEC1 ("EC PRIVATE KEY") is accepted too: WebCrypto imports only PKCS#8.
  const pkcs8 = privateKeyObject(privateKeyPem).export({ type: 'pkcs8', format: 'pem' }).toString()
  const key = await importPKCS8(pkcs8, 'ES512')
  signingKeys.set(privateKeyPem, key)
  return key
}

export const verifyingKey = async (publicKeyPem: string): Promise<CryptoKey> => {
  const cached = verifyingKeys.get(publicKeyPem)
  if (cached) return cached
  publicKeyObject(publicKeyPem)
  const key = await importSPKI(publicKeyPem, 'ES512')
  verifyingKeys.set(publicKeyPem, key)
  return key
}

export const publicPemOf = (privateKeyPem: string): string =>
  createPublicKey(privateKeyObject(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString()

/** QI's own pair: the given private key (PEM) or a fresh one. */
export const qiKeyPair = (privateKeyPem?: string): KeyPairPem =>
  privateKeyPem ? { privateKeyPem, publicKeyPem: publicPemOf(privateKeyPem) } : generateP521KeyPair()
