import { toPkcs8Pem } from './pem'
import { privateKeyOf, publicKeyOf } from './signing'

export type KeyCheck = { ok: true; privateKeyPem: string } | { ok: false; errors: { field: string; message: string }[] }

/** Proves both keys import as P-521 ES512 keys before they are stored. */
export const checkQiKeys = async (privateKeyPem: string, qiPublicKeyPem: string): Promise<KeyCheck> => {
  const errors: { field: string; message: string }[] = []
  const pkcs8 = toPkcs8Pem(privateKeyPem)
  if (
    !pkcs8 ||
    !(await privateKeyOf(pkcs8).then(
      () => true,
      () => false,
    ))
  ) {
    errors.push({ field: 'private_key_pem', message: 'must be an EC P-521 private key in PKCS#8 or SEC1 PEM' })
  }
  if (
    !(await publicKeyOf(qiPublicKeyPem).then(
      () => true,
      () => false,
    ))
  ) {
    errors.push({ field: 'qi_public_key_pem', message: 'must be an EC P-521 public key in SPKI PEM' })
  }
  return errors.length || !pkcs8 ? { ok: false, errors } : { ok: true, privateKeyPem: pkcs8 }
}
