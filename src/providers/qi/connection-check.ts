import { describeFailure, notChecked, step, unreachableDetail } from '../connection-check'
import { callProvider } from '../outbound'
import type { ConnectionCheckItem, ConnectionCheckOutcome, ProviderError, Result } from '../provider'
import type { QiAnswer } from './mapping'

type SignedRequest = (
  method: string,
  path: string,
  payload?: unknown,
  signing?: { signQuery?: boolean },
) => Promise<Result<QiAnswer>>

export type QiCheckInput = {
  request: SignedRequest
  baseUrl: string
  apiClientKey: string
  timeoutMs: number
  toleranceMs: number
}

// A name whose bytes differ from its json.dumps form: proves QI hashes the body we send as we do.
const NON_ASCII = 'João Conceição'

/** QI accepted the request (a 2xx) but its answer failed our signature check. */
const isUntrustedAnswer = (result: Result<QiAnswer>) =>
  !result.ok &&
  result.error.untrusted === true &&
  result.error.status !== null &&
  result.error.status >= 200 &&
  result.error.status < 300

/**
 * QI's authentication test endpoint (`/test/{api_client_key}`, which answers a signed request with
 * what it received) called the ways the gateway will call QI: reachable at all (and QI's clock
 * from its Date header), a signed GET (our key and API-CLIENT-KEY), QI's signature on the answer
 * (the stored QI public key), a signed GET with a query string (which `uri` form QI accepts,
 * remembered as `signed_uri_query`) and a signed POST whose body is not ASCII.
 */
export const checkQiConnection = async (input: QiCheckInput): Promise<ConnectionCheckOutcome> => {
  const path = `/test/${encodeURIComponent(input.apiClientKey)}`
  const checks: ConnectionCheckItem[] = []
  let skewMs: number | null = null

  const reachable = await step('reachable', async () => {
    const sentAt = Date.now()
    const probe = await callProvider({
      provider: 'qi',
      url: new URL(path.slice(1), input.baseUrl.replace(/\/?$/, '/')).toString(),
      method: 'GET',
      timeoutMs: input.timeoutMs,
    })
    if (!probe.ok) return { ok: false, detail: unreachableDetail(input.baseUrl, probe.error) }
    const date = Date.parse(probe.response.headers.get('date') ?? '')
    // HTTP dates have whole seconds: compare with the middle of the round trip, rounded the same way.
    if (Number.isFinite(date)) skewMs = date - Math.floor((sentAt + Date.now()) / 2000) * 1000
    if (probe.response.status === 404 || probe.response.status === 405) {
      return {
        ok: false,
        detail: `${input.baseUrl} answered HTTP ${probe.response.status} where QI's API should be: check base_url.`,
      }
    }
    return { ok: true, detail: `QI answered at ${input.baseUrl}.` }
  })
  checks.push(reachable)
  if (!reachable.ok) {
    for (const name of ['clock_skew', 'authentication', 'answer_signature', 'signed_query', 'non_ascii_body'])
      checks.push(notChecked(name, 'QI could not be reached'))
    return { checks }
  }

  const clock = await step('clock_skew', async () => {
    if (skewMs === null) return { ok: true, detail: 'QI sent no Date header: the clock could not be compared.' }
    const seconds = Math.round(skewMs / 1000)
    const where =
      seconds === 0 ? 'within a second of ours' : `${Math.abs(seconds)} s ${seconds > 0 ? 'ahead of' : 'behind'} ours`
    if (Math.abs(skewMs) > input.toleranceMs) {
      return {
        ok: false,
        detail: `QI's clock is ${where}, beyond the ${input.toleranceMs / 1000} s we accept on QI's signatures (QI_SIGNATURE_TOLERANCE_SECONDS), and QI likely refuses ours too. Fix the clock that is wrong (NTP).`,
      }
    }
    return { ok: true, detail: `QI's clock is ${where}.` }
  })
  checks.push(clock)

  const signed = await input.request('GET', path)
  checks.push(
    await step('authentication', async () => {
      if (signed.ok || isUntrustedAnswer(signed)) {
        return { ok: true, detail: 'QI accepted the signed request (private key and API-CLIENT-KEY).' }
      }
      // QI's own window for our timestamps is not documented: any skew over a minute may be the cause.
      const skewHint =
        skewMs !== null && Math.abs(skewMs) > 60_000
          ? ` Our clocks differ by ${Math.round(Math.abs(skewMs) / 1000)} s (see clock_skew).`
          : ''
      return {
        ok: false,
        detail: `${describeFailure(signed.error, 'QI')}. Check that private_key_pem is the key whose public half QI registered for this api_client_key, and the api_client_key itself.${skewHint}`,
      }
    }),
  )
  checks.push(
    await step('answer_signature', async () => {
      if (isUntrustedAnswer(signed) && !signed.ok) {
        return {
          ok: false,
          detail: `${signed.error.message}. Check that qi_public_key_pem is QI's current public key for this integration.`,
        }
      }
      if (!signed.ok) return { ok: false, detail: 'Not checked: QI refused the signed request.' }
      return signed.value.signed
        ? { ok: true, detail: "QI's signed answer verifies with the stored QI public key." }
        : {
            ok: true,
            detail: 'QI did not sign this answer: nothing to verify (signed answers and webhooks are checked).',
          }
    }),
  )
  if (!signed.ok && !isUntrustedAnswer(signed)) {
    checks.push(notChecked('signed_query', 'QI refused the signed request'))
    checks.push(notChecked('non_ascii_body', 'QI refused the signed request'))
    return { checks }
  }

  let learned: Record<string, unknown> | undefined
  checks.push(
    await step('signed_query', async () => {
      const query = `${path}?check=signed_query`
      // An answer that does not verify proves nothing about the form (and TED lookups, which carry a query,
      // would be refused the same way): the step fails and nothing is learned.
      const unverified = (error: ProviderError | undefined, form: string) => ({
        ok: false,
        detail: `QI accepted a signed GET with a query string (uri ${form}; HTTP ${error?.status}), but ${error?.message}: TED lookups by request_control_key (used after a timeout) would be refused the same way. Check qi_public_key_pem (see answer_signature); if that passes, QI signs answers to requests with a query in a form the gateway does not accept.`,
      })
      const without = await input.request('GET', query, undefined, { signQuery: false })
      if (isUntrustedAnswer(without)) return unverified(without.ok ? undefined : without.error, 'without the query')
      if (without.ok) {
        learned = { signed_uri_query: 'excluded' }
        return { ok: true, detail: 'QI accepts a signed uri without the query string; the gateway signs it so.' }
      }
      const withQuery = await input.request('GET', query, undefined, { signQuery: true })
      if (isUntrustedAnswer(withQuery)) return unverified(withQuery.ok ? undefined : withQuery.error, 'with the query')
      if (withQuery.ok) {
        learned = { signed_uri_query: 'included' }
        return {
          ok: true,
          detail: 'QI wants the query string inside the signed uri; the gateway signs it so from now on.',
        }
      }
      return {
        ok: false,
        detail: `QI refused a signed GET with a query string in both uri forms (${describeFailure(withQuery.error, 'QI')}): looking TEDs up after a timeout will fail.`,
      }
    }),
  )
  checks.push(
    await step('non_ascii_body', async () => {
      const sent = { check: 'non_ascii_body', owner_name: NON_ASCII }
      const result = await input.request('POST', path, sent)
      if (!result.ok && !isUntrustedAnswer(result)) {
        return {
          ok: false,
          detail: `${describeFailure(result.error, 'QI')}. QI refused a body with non-ASCII text: the MD5 we sign is of the UTF-8 bytes we send.`,
        }
      }
      const echoed = result.ok ? (result.value.body as { owner_name?: unknown } | null)?.owner_name : NON_ASCII
      if (echoed !== undefined && echoed !== NON_ASCII) {
        return { ok: false, detail: `QI read the name back as ${JSON.stringify(echoed)}: the body's encoding is off.` }
      }
      return { ok: true, detail: 'QI accepted a signed body with non-ASCII text.' }
    }),
  )
  return { checks, learned }
}
