import { generateP521KeyPair } from '../../sandbox/qi/keys'
import { startQiSandbox } from '../../sandbox/qi/server'
import type { FaultInput } from '../../sandbox/shared/faults'
import { EXAMPLES } from '../../src/schemas/examples'
import { createPartner, type Gateway } from './gateway'

const json = async (res: Response) => {
  const body = (await res.json()) as any
  if (!res.ok) throw new Error(`QI sandbox control ${res.status}: ${JSON.stringify(body)}`)
  return body
}

// P-521 key generation takes a few ms; one partner key pair serves every integration of a run.
let partnerKeys: ReturnType<typeof generateP521KeyPair> | undefined
export const partnerKeyPair = () => (partnerKeys ??= generateP521KeyPair())

export const qiControl = (url: string) => {
  const post = (path: string, body: unknown) =>
    fetch(`${url}/_sandbox${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(json)
  const get = (path: string) => fetch(`${url}/_sandbox${path}`).then(json)
  return {
    /** Registers an integration (the partner's public key, its accounts, where webhooks go). */
    newIntegration: async (webhookUrl: string, accountCount = 1) =>
      (
        await post('/integrations', {
          public_key_pem: partnerKeyPair().publicKeyPem,
          account_count: accountCount,
          webhook_url: webhookUrl,
        })
      ).data as { api_client_key: string; account_keys: string[]; qi_public_key_pem: string },
    tokens: async (tedKey: string) =>
      (await get(`/tokens?ted_key=${tedKey}`)).data as { token: string; contact_type: string; reason: string }[],
    latestToken: async (tedKey: string) => {
      const [latest] = (await get(`/tokens?ted_key=${tedKey}`)).data as { token: string }[]
      if (!latest) throw new Error(`no token was sent for ${tedKey}`)
      return latest.token
    },
    ted: async (tedKey: string) => (await get(`/teds/${tedKey}`)).data as any,
    setStatus: (tedKey: string, ted_status: string, refusal_reason?: unknown) =>
      post(`/teds/${tedKey}/status`, { ted_status, refusal_reason }),
    sendWebhook: async (input: { ted_key: string; ted_status?: string; tamper?: string; url?: string }) =>
      (await post('/webhooks/send', input)).data as { status: number | null; body: any; error: string | null },
    webhooks: async (tedKey: string) => (await get(`/webhooks?ted_key=${tedKey}`)).data as any[],
    requests: async (filter: { method?: string; path?: string; credential?: string }) => {
      const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v) as [string, string][])
      return (await get(`/requests?${query}`)).data as { method: string; path: string; body: any; status: number }[]
    },
    fault: (rule: FaultInput & { apiClientKey?: string }) => {
      const { apiClientKey, ...rest } = rule
      return post('/faults', apiClientKey ? { ...rest, headers: { 'api-client-key': apiClientKey } } : rest)
    },
    clearFaults: () => fetch(`${url}/_sandbox/faults`, { method: 'DELETE' }),
    settings: (patch: Record<string, unknown>) => post('/settings', patch),
    advanceClock: (ms: number) => post('/clock', { advance_ms: ms }),
  }
}

export type QiSandbox = Awaited<ReturnType<typeof startQiSandbox>> & ReturnType<typeof qiControl>

export const startQi = async (options: Parameters<typeof startQiSandbox>[0] = {}): Promise<QiSandbox> => {
  const sandbox = await startQiSandbox({ port: 0, ...options })
  return Object.assign(sandbox, qiControl(sandbox.url))
}

/** A partner with its own QI integration (webhooks to this gateway) and connection. */
export const createQiPartner = async (
  gateway: Gateway,
  qi: QiSandbox,
  options: { limits?: Record<string, number | null>; webhookUrl?: string; qiPublicKeyPem?: string } = {},
) => {
  const { limits } = options
  const integration = await qi.newIntegration(options.webhookUrl ?? `${gateway.url}/providers/qi/webhooks`, 2)
  const partner = await createPartner(gateway, { limits })
  const conn = await gateway.admin('PUT', `/partners/${partner.id}/connections/qi?mode=test`, {
    api_client_key: integration.api_client_key,
    private_key_pem: partnerKeyPair().privateKeyPem,
    qi_public_key_pem: options.qiPublicKeyPem ?? integration.qi_public_key_pem,
    base_url: qi.url,
    // The second account exists at QI but is not this partner's to use through the gateway.
    account_keys: [integration.account_keys[0]],
  })
  if (conn.status !== 200) throw new Error(`qi connection: ${conn.status} ${conn.text}`)
  return {
    ...partner,
    apiClientKey: integration.api_client_key,
    accountKey: integration.account_keys[0]!,
    otherAccountKey: integration.account_keys[1]!,
  }
}

/** The API reference's own TED example (so every test that creates a TED proves the example works), for one account. */
export const tedBody = (transferId: string, accountKey: string, overrides: Record<string, unknown> = {}) => ({
  transfer_id: transferId,
  provider: 'qi',
  qi: { ...EXAMPLES.createQi.qi, account_key: accountKey, ...overrides },
})
