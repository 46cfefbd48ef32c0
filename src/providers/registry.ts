import { decryptJson } from '../lib/crypto'
import { Problem } from '../lib/problem'
import type { Settings } from '../lib/settings'
import type {
  AdapterOptions,
  ProviderFacts,
  ProviderModule,
  ProviderName,
  SealedConnection,
  TransferProvider,
} from './provider'
import { qiProvider } from './qi'
import { sfoxProvider } from './sfox'
import { simulatorConnection, simulatorFetch } from './simulator/connection'

/** Every provider the gateway speaks to. A new one is a folder beside sfox/ and qi/ and a line here. */
export const PROVIDER_MODULES: Record<ProviderName, ProviderModule> = { sfox: sfoxProvider, qi: qiProvider }

/** What every provider documents; the same for any deployment (channels, who cancels). */
export const PROVIDER_FACTS = Object.fromEntries(
  Object.values(PROVIDER_MODULES).map((module) => [module.name, module.facts]),
) as Record<ProviderName, ProviderFacts>

const factsBySettings = new WeakMap<Settings, Record<ProviderName, ProviderFacts>>()

/** The facts in force for this deployment: the documented ones, with the settings' answers to what the pages leave open. */
export const providerFacts = (settings: Settings): Record<ProviderName, ProviderFacts> => {
  let facts = factsBySettings.get(settings)
  if (!facts) {
    facts = Object.fromEntries(
      Object.values(PROVIDER_MODULES).map((module) => [
        module.name,
        { ...module.facts, ...module.factsFromSettings?.(settings) },
      ]),
    ) as Record<ProviderName, ProviderFacts>
    factsBySettings.set(settings, facts)
  }
  return facts
}

/** Binds a ciphertext to its partner and provider (AES-GCM additional data). */
export const connectionContext = (partnerId: string, provider: ProviderName) => `connection:${partnerId}:${provider}`

type Credentials = Record<string, string>

/**
 * Decrypted credentials, per isolate, by the sealed value they came from (a changed connection is a
 * new sealed value, so nothing goes stale). Held only in memory, like the partner cache in auth.ts:
 * AES-GCM and base64 work on every provider call was a visible share of a create's CPU.
 */
const openedCredentials = new Map<string, Promise<Credentials>>()
const MAX_OPENED = 1000

const openCredentials = (
  encryptionKey: string,
  partnerId: string,
  name: ProviderName,
  sealed: string,
): Promise<Credentials> => {
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

/**
 * Builds the adapter for a partner's connection, decrypting its credentials on first use. In test mode
 * a provider with no connection is the simulator, when the deployment has one; live never falls back.
 */
export const providerRegistry =
  (settings: Settings, onTiming: (ms: number) => void, simulator?: Fetcher) =>
  async (
    partnerId: string,
    name: ProviderName,
    connection: SealedConnection | undefined,
    override: { timeoutMs?: number; mode?: string } = {},
  ): Promise<TransferProvider> => {
    const options: AdapterOptions = {
      timeoutMs: Math.min(settings.PROVIDER_TIMEOUT_MS, override.timeoutMs ?? Number.POSITIVE_INFINITY),
      uploadTimeoutMs: settings.PROVIDER_UPLOAD_TIMEOUT_MS,
      historyMaxRows: settings.SFOX_HISTORY_MAX_ROWS,
      signatureToleranceMs: settings.QI_SIGNATURE_TOLERANCE_SECONDS * 1000,
      facts: providerFacts(settings)[name],
      onTiming,
    }
    if (!connection && override.mode === 'test' && simulator) {
      const module = PROVIDER_MODULES[name]
      const open = simulatorConnection(partnerId, name)
      const simulated = { ...options, fetch: simulatorFetch(simulator, partnerId) }
      return { ...module.connect(open, simulated), simulator: module.simulatorControls(open, simulated) }
    }
    if (!connection) {
      throw new Problem('provider_not_configured', {
        detail: `No ${override.mode ? `${override.mode} ` : ''}${name} connection is set up for this partner; an operator adds it through the admin API (a key never falls back to another mode's).`,
      })
    }
    const credentials = await openCredentials(settings.ENCRYPTION_KEY, partnerId, name, connection.credentials).catch(
      () => {
        throw new Problem('service_unavailable', {
          detail: `The ${name} connection's credentials cannot be decrypted.`,
        })
      },
    )
    return PROVIDER_MODULES[name].connect(
      { baseUrl: connection.baseUrl, credentials, settings: connection.settings },
      options,
    )
  }
