import type { Settings } from '../env'
import { Problem } from '../http/problem'
import { decryptJson } from '../lib/crypto'
import type { PartnerContext } from '../partners/context'
import { connectionContext } from '../partners/connections'
import type { ProviderName, TransferProvider } from './provider'
import { createQiProvider } from './qi/client'
import { createSfoxProvider } from './sfox/client'

/** Builds the adapter for a partner's connection, decrypting its credentials only now. */
export const providerRegistry =
  (settings: Settings, onTiming: (ms: number) => void) =>
  async (partner: PartnerContext, name: ProviderName): Promise<TransferProvider> => {
    const connection = partner.connections[name]
    if (!connection) {
      throw new Problem('provider_not_configured', {
        detail: `No ${name} connection is set up for this partner; an operator adds it through the admin API.`,
      })
    }
    const options = {
      timeoutMs: settings.PROVIDER_TIMEOUT_MS,
      uploadTimeoutMs: settings.PROVIDER_UPLOAD_TIMEOUT_MS,
      historyMaxRows: settings.SFOX_HISTORY_MAX_ROWS,
      onTiming,
    }
    const credentials = await decryptJson<Record<string, string>>(
      settings.ENCRYPTION_KEY,
      connectionContext(partner.id, name),
      connection.credentials,
    ).catch(() => {
      throw new Problem('service_unavailable', { detail: `The ${name} connection's credentials cannot be decrypted.` })
    })
    switch (name) {
      case 'sfox':
        return createSfoxProvider({ baseUrl: connection.baseUrl, apiKey: credentials.api_key! }, options)
      case 'qi':
        return createQiProvider(
          {
            baseUrl: connection.baseUrl,
            apiClientKey: credentials.api_client_key!,
            privateKeyPem: credentials.private_key_pem!,
            qiPublicKeyPem: credentials.qi_public_key_pem!,
          },
          options,
        )
    }
  }
