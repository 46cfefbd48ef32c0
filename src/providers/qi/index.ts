import type { ProviderModule } from '../provider'
import { createQiProvider } from './client'

import { QI_FACTS } from './facts'
import { qiSimulatorControls } from './simulator'
import { readQiWebhook } from './webhooks'

/** What a QI connection stores besides its credentials (admin API, connection check). */
export type QiConnectionSettings = {
  account_keys?: string[]
  webhook_uri?: string
  signed_uri_query?: 'included' | 'excluded'
}

/** QI Tech: TEDs approved with an SMS/email token; pushes status webhooks signed with ES512. */
export const qiProvider: ProviderModule = {
  name: 'qi',
  facts: QI_FACTS,
  factsFromSettings: (settings) => ({
    codeTtlMs: settings.QI_TOKEN_TTL_SECONDS * 1000,
    maxAttempts: settings.QI_TOKEN_ATTEMPTS,
  }),
  connect: ({ baseUrl, credentials, settings }, options) =>
    createQiProvider(
      {
        baseUrl,
        apiClientKey: credentials.api_client_key!,
        privateKeyPem: credentials.private_key_pem!,
        qiPublicKeyPem: credentials.qi_public_key_pem!,
        accountKeys: (settings as QiConnectionSettings).account_keys ?? [],
        webhookUri: (settings as QiConnectionSettings).webhook_uri,
        signsQuery: (settings as QiConnectionSettings).signed_uri_query === 'included',
      },
      options,
    ),
  readWebhook: readQiWebhook,
  simulatorControls: qiSimulatorControls,
}
