/** QI's 2FA token for every TED of the bench (sandbox setting `fixed_token`), so no token is read back. */
export const QI_TOKEN = '329329'
export const QI_WRONG_TOKEN = '000000'

export type QiIntegration = { apiClientKey: string; accountKey: string; qiPublicKeyPem: string }

/**
 * Registers an integration with the QI sandbox (`POST /_sandbox/integrations`, as test/helpers/qi.ts
 * does): the partner's P-521 public key and one account. No webhook_url, so QI sends no status
 * webhooks: a confirm's "sent" webhook would be a second gateway request (POST /providers/qi/webhooks)
 * whose DB round trips the confirm phase would otherwise be charged with.
 */
export const registerQiIntegration = async (qiUrl: string, publicKeyPem: string): Promise<QiIntegration> => {
  const res = await fetch(`${qiUrl}/_sandbox/integrations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ public_key_pem: publicKeyPem, account_count: 1 }),
  })
  const body = (await res.json()) as {
    data?: { api_client_key: string; account_keys: string[]; qi_public_key_pem: string }
  }
  if (!res.ok || !body.data?.account_keys[0])
    throw new Error(`QI sandbox: registering an integration: ${res.status} ${JSON.stringify(body)}`)
  return {
    apiClientKey: body.data.api_client_key,
    accountKey: body.data.account_keys[0],
    qiPublicKeyPem: body.data.qi_public_key_pem,
  }
}
