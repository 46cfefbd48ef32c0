import { hmacSha256Raw, randomBytes } from '../lib/crypto'
import { fromBase64, toBase64 } from '../lib/encoding'

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): `webhook-signature` is a space
 * separated list of `v1,<base64 HMAC-SHA256("<id>.<timestamp>.<body>")>`, one per active secret, so
 * receivers verify with the `standardwebhooks` or `svix` libraries. Secrets are `whsec_` + base64.
 */
export const generateSecret = (): string => `whsec_${toBase64(randomBytes(32))}`

const keyOf = (secret: string) => fromBase64(secret.replace(/^whsec_/, ''))

export const signatureHeader = async (
  secrets: string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<string> => {
  const content = `${id}.${timestampSeconds}.${body}`
  const signatures = await Promise.all(
    secrets.map(async (secret) => `v1,${toBase64(await hmacSha256Raw(keyOf(secret), content))}`),
  )
  return signatures.join(' ')
}
