import type { KeyPairPem } from '../../sandbox/qi/keys'
import { EXAMPLES } from '../../src/schemas/examples'
import { type Answer, type PartnerClient, partnerClient, type Stats } from './client'
import { type SoakReceiver, startSoakReceiver } from './receiver'
import { SOAK_OTP, type SoakStack } from './stack'

/** A receiver registered as one of a partner's webhook endpoints. */
export type Endpoint = {
  id: string
  partner: number
  receiver: SoakReceiver
  /** null: every event. */
  eventTypes: string[] | null
  role: 'main' | 'flaky' | 'gone' | 'downup' | 'rotated'
}

export type SoakPartner = {
  index: number
  id: string
  key: string
  sfoxAccount: string
  qiApiClientKey: string
  qiAccount: string
  userId: string
  client: PartnerClient
  endpoints: Endpoint[]
  /** QI: amount → the partner's transfer_id (amounts are unique per partner, so a TED names its transfer). */
  tedAmounts: Map<string, string>
  /** Every ted_key this partner saw (for the webhook chaos). */
  tedKeys: Set<string>
}

// Partner 0 has a flaky receiver and one that answers 410; 1 one that goes down and comes back;
// 2 a subset subscription and one whose secret is rotated mid-run; partner 2 also has a low rate limit.
const ENDPOINT_ROLES: Endpoint['role'][][] = [
  ['main', 'flaky', 'gone'],
  ['main', 'downup'],
  ['main', 'rotated'],
]
const SUBSET = ['transfer.completed', 'transfer.canceled', 'transfer.expired', 'transfer.failed']

export const createPartners = async (
  stack: SoakStack,
  count: number,
  qiKeys: KeyPairPem,
  stats: Stats,
  clientOptions: { requestTimeoutMs: number; giveUpMs: number; stopping: () => boolean },
): Promise<SoakPartner[]> => {
  const partners: SoakPartner[] = []
  for (let index = 0; index < count; index++) {
    const partner = await stack.admin('POST', '/partners', {
      name: `Soak partner ${index}`,
      // Partner 2 meets the gateway's own rate limit (429 rate_limited with Retry-After) now and then.
      ...(index === 2 ? { rate_limit: 80 } : {}),
    })
    const key = await stack.admin('POST', `/partners/${partner.id}/api-keys`, { mode: 'test' })
    const account = await stack.sfox.newAccount()
    await stack.admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
      api_key: account.api_key,
      base_url: stack.proxy.url,
    })
    const integration = await fetch(`${stack.qi.url}/_sandbox/integrations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        public_key_pem: qiKeys.publicKeyPem,
        account_count: 1,
        webhook_url: `${stack.url}/providers/qi/webhooks`,
      }),
    }).then((r) => r.json() as Promise<{ data: { api_client_key: string; account_keys: string[] } }>)
    await stack.admin('PUT', `/partners/${partner.id}/connections/qi?mode=test`, {
      api_client_key: integration.data.api_client_key,
      private_key_pem: qiKeys.privateKeyPem,
      qi_public_key_pem: stack.qi.qiPublicKeyPem,
      base_url: stack.qi.url,
      account_keys: [integration.data.account_keys[0]],
    })
    const client = partnerClient({ baseUrl: stack.url, key: key.key, stats, ...clientOptions })
    const endpoints: Endpoint[] = []
    for (const role of ENDPOINT_ROLES[index] ?? ['main']) {
      const receiver = await startSoakReceiver(`p${index}-${role}`)
      const eventTypes = index === 2 && role === 'main' ? SUBSET : null
      const created = await client.careful('setup', 'POST', '/v1/webhook-endpoints', {
        url: receiver.url,
        ...(eventTypes ? { event_types: eventTypes } : {}),
        description: receiver.name,
      })
      if (created?.status !== 201)
        throw new Error(`webhook endpoint: ${created?.status} ${JSON.stringify(created?.body)}`)
      receiver.trust(created.body.secret)
      endpoints.push({ id: created.body.id, partner: index, receiver, eventTypes, role })
    }
    partners.push({
      index,
      id: partner.id,
      key: key.key,
      sfoxAccount: account.account,
      qiApiClientKey: integration.data.api_client_key,
      qiAccount: integration.data.account_keys[0]!,
      userId: `soak-user-${index}`,
      client,
      endpoints,
      tedAmounts: new Map(),
      tedKeys: new Set(),
    })
  }
  return partners
}

export type FlowKind =
  | 'sfox_confirm'
  | 'sfox_cancel'
  | 'sfox_expire'
  | 'sfox_payout'
  | 'sfox_brute'
  | 'sfox_resend_spam'
  | 'qi_confirm'
  | 'qi_cancel'
  | 'qi_expire'
  | 'qi_brute'
  | 'qi_resend_spam'
  | 'documents'

const WEIGHTS: [FlowKind, number][] = [
  ['sfox_confirm', 26],
  ['sfox_cancel', 7],
  ['sfox_expire', 4],
  ['sfox_payout', 9],
  ['sfox_brute', 3],
  ['sfox_resend_spam', 3],
  ['qi_confirm', 24],
  ['qi_cancel', 6],
  ['qi_expire', 4],
  ['qi_brute', 3],
  ['qi_resend_spam', 3],
  ['documents', 8],
]
const TOTAL_WEIGHT = WEIGHTS.reduce((sum, [, w]) => sum + w, 0)

export const pickFlow = (random: () => number): FlowKind => {
  let roll = random() * TOTAL_WEIGHT
  for (const [kind, weight] of WEIGHTS) {
    roll -= weight
    if (roll < 0) return kind
  }
  return 'sfox_confirm'
}

const ok = (answer: Answer | null) => answer !== null && answer.status >= 200 && answer.status < 300

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The newest QI token sent for a TED (what the approver's phone shows), read from the sandbox. */
const latestToken = async (qiUrl: string, tedKey: string): Promise<string | null> => {
  try {
    const res = await fetch(`${qiUrl}/_sandbox/tokens?ted_key=${encodeURIComponent(tedKey)}`)
    const body = (await res.json()) as { data: { token: string }[] }
    return body.data[0]?.token ?? null
  } catch {
    return null
  }
}

const wrongCodeFor = (right: string | null) => (right === '000000' ? '111111' : '000000')

/**
 * One flow of a partner, as a careful integration does it. Returns the flow's final word (for the
 * per-flow figures); what matters is checked at the end against the gateway, the sandboxes and the receivers.
 */
export const runFlow = async (
  kind: FlowKind,
  partner: SoakPartner,
  n: number,
  random: () => number,
  qiUrl: string,
): Promise<string> => {
  const { client } = partner
  const transferId = `p${partner.index}-${kind}-${n}`

  if (kind === 'documents') {
    const key = `docs-${transferId}`
    const form = () => {
      const data = new FormData()
      data.append(
        'files',
        new Blob([new TextEncoder().encode(`%PDF-1.4 soak ${key}`)], { type: 'application/pdf' }),
        `${key}-id.pdf`,
      )
      data.append(
        'files',
        new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])], { type: 'image/png' }),
        `${key}-bill.png`,
      )
      data.append('file_types', JSON.stringify({ [`${key}-id.pdf`]: 'ID', [`${key}-bill.png`]: 'PoR' }))
      return data
    }
    const answer = await client.careful('upload', 'POST', `/v1/users/${partner.userId}/documents`, undefined, {
      headers: { 'idempotency-key': key },
      raw: form,
    })
    return answer ? `upload ${answer.status}` : 'upload gave up'
  }

  const isQi = kind.startsWith('qi_')
  let amount = ''
  const body = isQi
    ? (() => {
        amount = (100 + n / 100).toFixed(2)
        partner.tedAmounts.set(amount, transferId)
        return {
          transfer_id: transferId,
          provider: 'qi',
          qi: { ...EXAMPLES.createQi.qi, account_key: partner.qiAccount, amount },
        }
      })()
    : {
        transfer_id: transferId,
        provider: 'sfox',
        sfox: {
          user_id: partner.userId,
          type: kind === 'sfox_payout' ? 'PAYOUT' : 'PAYMENT',
          purpose: 'GOOD',
          currency: 'eth',
          quantity: '0.1',
          rate: '2000',
          // The partner's id rides along, so the sandbox's transfers can be matched to it.
          description: transferId,
        },
      }
  const created = await client.careful('create', 'POST', '/v1/transfers', body)
  if (!ok(created)) return `create ${created?.status ?? 'gave up'} ${created?.body?.code ?? ''}`
  const reference: string | null = created!.body.provider_reference ?? null
  if (isQi && reference) partner.tedKeys.add(reference)
  if (created!.body.status !== 'pending_verification') return `created ${created!.body.status}`
  const path = `/v1/transfers/${transferId}`

  const rightCode = async () => (isQi ? ((reference && (await latestToken(qiUrl, reference))) ?? '') : SOAK_OTP)
  const confirm = (code: string) => client.careful('confirm', 'POST', `${path}/confirm`, { code })
  const resend = async () => {
    for (let tries = 0; tries < 3; tries++) {
      const answer = await client.careful('resend', 'POST', `${path}/resend`, {})
      if (answer?.status === 429 && answer.body?.code === 'resend_cooldown') {
        await sleep(Math.min(Number(answer.headers.get('retry-after') ?? 1) * 1000, 5_000))
        continue
      }
      return answer
    }
    return null
  }

  switch (kind) {
    case 'sfox_confirm':
    case 'qi_confirm': {
      if (random() < 0.3) await client.careful('get', 'GET', path)
      if (random() < 0.2) await confirm(wrongCodeFor(await rightCode()))
      if (random() < 0.2) await resend()
      const answer = await confirm(await rightCode())
      return `confirm ${answer?.status ?? 'gave up'} ${answer?.body?.status ?? answer?.body?.code ?? ''}`
    }
    case 'sfox_cancel':
    case 'qi_cancel': {
      if (random() < 0.3) await confirm(wrongCodeFor(await rightCode()))
      const answer = await client.careful('cancel', 'POST', `${path}/cancel`)
      return `cancel ${answer?.status ?? 'gave up'} ${answer?.body?.status ?? answer?.body?.code ?? ''}`
    }
    case 'sfox_expire':
    case 'qi_expire':
      if (random() < 0.5) await resend()
      return 'left to expire'
    case 'sfox_brute':
    case 'qi_brute': {
      // Seven wrong codes: the gateway forwards at most its attempt limit, then refuses.
      let last: Answer | null = null
      for (let i = 0; i < 7; i++) {
        last = await confirm(wrongCodeFor(await rightCode()))
        if (last?.body?.code === 'verification_attempts_exhausted' || last?.status === 409) break
      }
      return `brute ${last?.status ?? 'gave up'} ${last?.body?.code ?? ''}`
    }
    case 'sfox_resend_spam':
    case 'qi_resend_spam': {
      // Five resends, waiting out each cooldown: the gateway allows its limit, then refuses.
      let last: Answer | null = null
      for (let i = 0; i < 5; i++) {
        last = await resend()
        if (last?.body?.code === 'resend_limit_reached' || last?.status === 409) break
      }
      if (random() < 0.5) await confirm(await rightCode())
      return `resend spam ${last?.status ?? 'gave up'} ${last?.body?.code ?? ''}`
    }
    default:
      return 'done'
  }
}
