import type { FaultInput } from '../../sandbox/shared/faults'
import type { Endpoint, SoakPartner } from './partners'
import type { SoakStack } from './stack'

/** What the fault schedule did, counted per kind (printed with the figures). */
export type ChaosCounts = Record<string, number>

const SFOX_TARGETS: Record<string, { method: string; path: string }> = {
  create: { method: 'POST', path: '/v1/enterprise/transfer' },
  confirm: { method: 'POST', path: '/v1/enterprise/transfer/confirm' },
  resend: { method: 'POST', path: '/v1/enterprise/transfer/resend-confirmation' },
  cancel: { method: 'DELETE', path: '/v1/enterprise/transfer/:transfer_id' },
  read: { method: 'GET', path: '/v1/enterprise/transfer/history' },
}
const QI_TARGETS: Record<string, { method: string; path: string }> = {
  create: { method: 'POST', path: '/account/:account_key/ted' },
  confirm: { method: 'PUT', path: '/account/:account_key/ted/:ted_key/validate_token' },
  resend: { method: 'PATCH', path: '/account/:account_key/ted/:ted_key/resend_token' },
  read: { method: 'GET', path: '/account/:account_key/ted/:ted_key/outgoing' },
  list: { method: 'GET', path: '/account/:account_key/teds' },
}

/**
 * The provider faults, by kind. `lost` (the work done, the answer replaced by a 502: a lost answer)
 * is the only fault answering 502, so the provider's count of judged codes can tell it from a refusal
 * made before any work (500/503).
 */
const faultOf = (kind: string, timeoutMs: number): FaultInput => {
  switch (kind) {
    case 'lost':
      return { after: true, status: 502 }
    case 'refused':
      return { status: 503 }
    case 'rate_limited':
      return { status: 429, response_headers: { 'retry-after': '1' } }
    case 'slow':
      // Past the gateway's timeout, then the provider does the work anyway.
      return { delay_ms: timeoutMs + 700 }
    default:
      // slow_after: the work done at once, the answer late.
      return { after: true, delay_ms: timeoutMs + 700 }
  }
}
const KINDS = ['lost', 'refused', 'rate_limited', 'slow', 'slow_after']

const postJson = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then((r) => r.text())
    .catch(() => '')

/** Adds one random provider fault (count 1–2) at sFOX or QI; also a create refusal (422) now and then at sFOX. */
export const injectProviderFault = async (
  stack: SoakStack,
  random: () => number,
  timeoutMs: number,
  counts: ChaosCounts,
) => {
  const atSfox = random() < 0.55
  const targets = atSfox ? SFOX_TARGETS : QI_TARGETS
  const names = Object.keys(targets)
  const target = names[Math.floor(random() * names.length)]!
  let kind = KINDS[Math.floor(random() * KINDS.length)]!
  let fault = faultOf(kind, timeoutMs)
  if (atSfox && target === 'create' && random() < 0.25) {
    // A definitive refusal of a create (before any work): the partner sees 422 provider_rejected.
    kind = 'refusal_422'
    fault = { status: 422, body: { error: 'Soak: the provider refuses this transfer.' } }
  }
  const rule = { ...fault, ...targets[target]!, count: 1 + Math.floor(random() * 2) }
  await postJson(`${atSfox ? stack.sfox.url : stack.qi.url}/_sandbox/faults`, rule)
  const name = `${atSfox ? 'sfox' : 'qi'} ${target} ${kind}`
  counts[name] = (counts[name] ?? 0) + 1
}

/** Documents get refusals before the upload only (sFOX has no idempotency for uploads). */
export const injectUploadFault = async (stack: SoakStack, counts: ChaosCounts) => {
  await postJson(`${stack.sfox.url}/_sandbox/faults`, {
    method: 'POST',
    path: '/v1/enterprise/ddq/upload',
    status: 503,
    count: 1,
  })
  counts['sfox upload refused'] = (counts['sfox upload refused'] ?? 0) + 1
}

const TAMPERS = ['signature', 'payload_md5', 'stale_timestamp', 'wrong_uri']

/**
 * One QI webhook of the chaos: a duplicate of the TED's current status, a late one (an older status
 * after "sent": reordered), or a forged one (tampered signature, digest, timestamp or uri).
 */
export const sendQiWebhookChaos = async (
  stack: SoakStack,
  partners: SoakPartner[],
  random: () => number,
  counts: ChaosCounts,
) => {
  const keys = partners.flatMap((p) => [...p.tedKeys])
  if (keys.length === 0) return
  const tedKey = keys[Math.floor(random() * keys.length)]!
  const ted = stack.qi.state.teds.get(tedKey)
  if (!ted) return
  const roll = random()
  let input: Record<string, unknown>
  let name: string
  if (roll < 0.35) {
    input = { ted_key: tedKey }
    name = 'qi webhook duplicated'
  } else if (roll < 0.65 && ted.ted_status === 'sent') {
    input = { ted_key: tedKey, ted_status: 'pending' }
    name = 'qi webhook reordered (pending after sent)'
  } else {
    input = { ted_key: tedKey, tamper: TAMPERS[Math.floor(random() * TAMPERS.length)] }
    name = 'qi webhook forged'
  }
  await postJson(`${stack.qi.url}/_sandbox/webhooks/send`, input)
  counts[name] = (counts[name] ?? 0) + 1
}

/** A receiver that fails a fifth of callbacks and hangs past the gateway's timeout on a tenth. */
export const makeFlaky = (endpoint: Endpoint, random: () => number) =>
  endpoint.receiver.behave(() => {
    const roll = random()
    if (roll < 0.2) return { status: 500 }
    if (roll < 0.3) return 'hang'
    if (roll < 0.35) return { status: 503, delayMs: 200 }
    return { status: 200 }
  })

export const makeHealthy = (endpoint: Endpoint) => endpoint.receiver.behave(() => ({ status: 200 }))
