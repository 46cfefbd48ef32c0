import type { ProviderModule } from '../provider'
import { createQiProvider } from './client'
import { QI_FACTS } from './facts'
import { readQiWebhook } from './webhooks'

/** QI Tech: TEDs approved with an SMS/email token; pushes status webhooks signed with ES512. */
export const qiProvider: ProviderModule = {
  name: 'qi',
  facts: QI_FACTS,
  connect: ({ baseUrl, credentials, settings }, options) =>
    createQiProvider(
      {
        baseUrl,
        apiClientKey: credentials.api_client_key!,
        privateKeyPem: credentials.private_key_pem!,
        qiPublicKeyPem: credentials.qi_public_key_pem!,
        accountKeys: (settings as { account_keys?: string[] }).account_keys ?? [],
      },
      options,
    ),
  readWebhook: readQiWebhook,
}
