import type { Settings } from '../lib/settings'
import { Problem } from '../lib/problem'
import { decryptJson } from '../lib/crypto'
import type { PartnerContext } from '../services'
import { connectionContext } from '../partners/connections'
import type { ProviderName, TransferProvider } from './provider'
import { createQiProvider } from './qi/client'
import { createSfoxProvider } from './sfox/client'

type Credentials = Record<string, string>

/**
 * Decrypted credentials, per isolate, by the sealed value they came from (a changed connection is a
 * new sealed value, so nothing goes stale). Held only in memory, like the partner cache in auth.ts:
 * AES-GCM and base64 work on every provider call was a visible share of a create's CPU.
 */
const openedCredentials = new Map<string, Promise<Credentials>>()
const MAX_OPENED = 1000

const openCredentials = (encryptionKey: string, partnerId: string, name: ProviderName, sealed: string): Promise<Credentials> => {
  const cacheKey = `${partnerId}\u0000${name}\u0000${sealed}`
  let opened = openedCredentials.get(cacheKey)
  if (!opened) {
    opened = decryptJson<Credentials>(encryptionKey, connectionContext(partnerId, name), sealed)
    opened.catch(() => openedCredentials.delete(cacheKey))
    if (openedCredentials.size >= MAX_OPENED) openedCredentials.clear()
    openedCredentials.set(cacheKey, opened)
  }
  return opened
}

/** Builds the adapter for a partner's connection, decrypting its credentials on first use. */
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
    const credentials = await openCredentials(settings.ENCRYPTION_KEY, partner.id, name, connection.credentials).catch(() => {
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
