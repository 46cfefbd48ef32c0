import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { createQiPartner, type QiSandbox, startQi, tedBody } from '../helpers/qi'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

// Promises of docs/api.md and docs/providers.md about QI tokens, QI webhooks and sFOX amounts that
// had no test, or only a weak one.
let gateway: Gateway
let sfox: SfoxSandbox
let qi: QiSandbox

beforeAll(async () => {
  ;[gateway, sfox, qi] = await Promise.all([startGateway(), startSfox(), startQi()])
  await sfox.settings({ rate_limit: { enabled: false } })
})
afterAll(async () => {
  await gateway?.close()
  await sfox?.close()
  await qi?.close()
})

const wrongToken = (token: string) => (token === '000000' ? '111111' : '000000')
const validateCalls = (p: { accountKey: string }, tedKey: string) =>
  qi.requests({ method: 'PUT', path: `/account/${p.accountKey}/ted/${tedKey}/validate_token` })

describe('QI tokens (api.md "QI Tech TEDs"; providers.md "Tokens")', () => {
  it('"5 attempts across resends": a resend gives no attempts back; the fifth wrong token fails the transfer (api.md, QI Tech TEDs)', async () => {
    const p = await createQiPartner(gateway, qi, { limits: { resend_cooldown_seconds: 0 } })
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('qi-across', p.accountKey))
    expect(t.verification.attempts_remaining).toBe(5)
    const confirmWrong = async () =>
      p.call('POST', '/v1/transfers/qi-across/confirm', {
        code: wrongToken(await qi.latestToken(t.provider_reference)),
      })
    const resend = async () => {
      const res = await p.call('POST', '/v1/transfers/qi-across/resend')
      expect(res.status, res.text).toBe(200)
      return res.body.verification.attempts_remaining
    }
    expect((await confirmWrong()).body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: 4 })
    expect((await confirmWrong()).body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: 3 })
    expect(await resend()).toBe(3)
    expect((await confirmWrong()).body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: 2 })
    expect((await confirmWrong()).body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: 1 })
    expect(await resend()).toBe(1)
    const last = await confirmWrong()
    expect(last.status).toBe(422)
    expect(last.body).toMatchObject({
      code: 'verification_attempts_exhausted',
      attempts_remaining: 0,
      provider_error: { code: 'TED000082' },
    })
    expect((await p.call('GET', '/v1/transfers/qi-across')).body).toMatchObject({
      status: 'failed',
      verification: { attempts_remaining: 0 },
    })
    expect(await validateCalls(p, t.provider_reference)).toHaveLength(5)
  })

  it('"CONFIRM_ATTEMPTS is never more than QI_TOKEN_ATTEMPTS for QI": a partner allowed 10 gets 5, and a sixth is never forwarded (providers.md, Tokens; configuration.md)', async () => {
    // The partner's own limit works where the provider has none (sFOX): 10.
    const s = await createSfoxPartner(gateway, sfox, { confirm_attempts: 10 })
    expect((await s.call('POST', '/v1/transfers', paymentBody('cap-sfox'))).body.verification.attempts_remaining).toBe(
      10,
    )
    const p = await createQiPartner(gateway, qi, { limits: { confirm_attempts: 10 } })
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('qi-cap', p.accountKey))
    expect(t.verification.attempts_remaining).toBe(5)
    // Even if QI let more tries through, the gateway's cap alone stops the sixth (QI would reject at its 5th).
    await qi.settings({ max_attempts: 10 })
    try {
      const wrong = wrongToken(await qi.latestToken(t.provider_reference))
      for (let left = 4; left >= 0; left--) {
        const res = await p.call('POST', '/v1/transfers/qi-cap/confirm', { code: wrong })
        expect(res.body).toMatchObject({ code: 'verification_code_invalid', attempts_remaining: left })
      }
      const sixth = await p.call('POST', '/v1/transfers/qi-cap/confirm', {
        code: await qi.latestToken(t.provider_reference),
      })
      expect(sixth.status).toBe(422)
      expect(sixth.body).toMatchObject({ code: 'verification_attempts_exhausted', attempts_remaining: 0 })
      expect(await validateCalls(p, t.provider_reference)).toHaveLength(5)
    } finally {
      await qi.settings({ max_attempts: 5 })
    }
  })

  it('"TED000086 → transfer_not_pending_verification": QI\'s answer for a TED no longer pending comes back as 409 (api.md, QI Tech TEDs)', async () => {
    // This partner's webhooks go nowhere: QI moves the TED on without the gateway hearing of it.
    const p = await createQiPartner(gateway, qi, { webhookUrl: 'http://127.0.0.1:9/hooks' })
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('qi-86', p.accountKey))
    const token = await qi.latestToken(t.provider_reference)
    await qi.setStatus(t.provider_reference, 'rejected')
    const res = await p.call('POST', '/v1/transfers/qi-86/confirm', { code: token })
    expect(res.status).toBe(409)
    expect(res.body.code).toBe('transfer_not_pending_verification')
    // It was QI's answer (TED000086, 404): the confirm was forwarded, once.
    const calls = await validateCalls(p, t.provider_reference)
    expect(calls.map((c) => c.status)).toEqual([404])
    // The gateway learns from QI where the TED is, and the attempt was not spent.
    await expect
      .poll(async () => (await p.call('GET', '/v1/transfers/qi-86')).body.status, { timeout: 10_000, interval: 50 })
      .toBe('failed')
  })
})

describe('QI webhooks (providers.md "Webhooks from QI")', () => {
  it('"another method … is refused": a webhook whose only fault is the signed method is 401 and changes nothing (providers.md, Webhooks from QI)', async () => {
    const p = await createQiPartner(gateway, qi)
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('qi-method', p.accountKey))
    const tedKey = t.provider_reference as string
    const confirmed = await p.call('POST', '/v1/transfers/qi-method/confirm', { code: await qi.latestToken(tedKey) })
    expect(confirmed.body.status).toBe('completed')
    // Signed by QI's key, the right body MD5, uri, time and API-CLIENT-KEY; only the method is not the request's.
    const forged = await qi.sendWebhook({ ted_key: tedKey, ted_status: 'returned', tamper: 'wrong_method' })
    expect(forged.status).toBe(401)
    expect(forged.body.code).toBe('webhook_signature_invalid')
    expect((await p.call('GET', '/v1/transfers/qi-method')).body.status).toBe('completed')
    // The very same webhook, signed for its method, is accepted: nothing else about it was wrong.
    const genuine = await qi.sendWebhook({ ted_key: tedKey, ted_status: 'returned' })
    expect(genuine.status, JSON.stringify(genuine.body)).toBe(200)
    expect(genuine.body).toMatchObject({ received: true, applied: true, transfer_status: 'returned' })
    // Both carried the same document (only QI's send time differs).
    const returned = (await qi.webhooks(tedKey)).filter((h) => h.ted_status === 'returned')
    const [forgedBody, genuineBody] = returned.map((h) => ({ ...JSON.parse(h.body), webhook_datetime: null }))
    expect(forgedBody).toEqual(genuineBody)
  })
})

/** The decimal text's value as an exact fraction: digits and a power of ten. */
const exact = (text: string) => {
  const [whole, fraction = ''] = text.split('.')
  return { digits: BigInt(`${whole}${fraction}`), scale: fraction.length }
}
const sameValue = (a: string, b: string) => {
  const x = exact(a)
  const y = exact(b)
  const scale = Math.max(x.scale, y.scale)
  return x.digits * 10n ** BigInt(scale - x.scale) === y.digits * 10n ** BigInt(scale - y.scale)
}

/** A double's shortest text, without an exponent ("1e-7" → "0.0000001"). */
const plain = (value: number) => {
  const match = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(String(value))
  if (!match) return String(value)
  const digits = `${match[1]}${match[2] ?? ''}`
  const point = 1 + Number(match[3])
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`
  return point >= digits.length
    ? digits + '0'.repeat(point - digits.length)
    : `${digits.slice(0, point)}.${digits.slice(point)}`
}

/**
 * A positive decimal the API accepts (api.md "Amounts"): at most 15 significant digits and below
 * 10^15, as a string (with optional zero padding) or as a JSON number.
 */
const acceptedAmount = fc
  .record({
    significant: fc.bigInt({ min: 1n, max: 10n ** 15n - 1n }),
    scale: fc.integer({ min: 0, max: 24 }),
    leadingZeros: fc.integer({ min: 0, max: 2 }),
    trailingZeros: fc.integer({ min: 0, max: 2 }),
    asNumber: fc.boolean(),
  })
  .map(({ significant, scale, leadingZeros, trailingZeros, asNumber }) => {
    const digits = significant.toString().padStart(scale + 1, '0')
    const whole = digits.slice(0, digits.length - scale)
    const fraction = digits.slice(digits.length - scale)
    const text = fraction ? `${whole}.${fraction}` : whole
    const padded = `${'0'.repeat(leadingZeros)}${text}${fraction && trailingZeros ? '0'.repeat(trailingZeros) : ''}`
    return { text, sent: asNumber ? Number(text) : padded }
  })

describe('sFOX amounts (api.md "Amounts"; providers.md "sFOX")', () => {
  it('"sFOX always receives exactly the number you sent": any accepted quantity and rate reach sFOX as that number (api.md, Amounts)', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    let n = 0
    await fc.assert(
      fc.asyncProperty(acceptedAmount, acceptedAmount, async (quantity, rate) => {
        const id = `amount-${n++}`
        const res = await p.call('POST', '/v1/transfers', paymentBody(id, { quantity: quantity.sent, rate: rate.sent }))
        expect(res.status, res.text).toBe(201)
        // Returned as the same value, normalized.
        expect(sameValue(res.body.sfox.quantity, quantity.text)).toBe(true)
        expect(sameValue(res.body.sfox.rate, rate.text)).toBe(true)
        const [sent] = (
          await sfox.requests({ method: 'POST', path: '/v1/enterprise/transfer', account: p.sfoxAccount })
        ).filter((r) => r.body.transfer_id === res.body.provider_reference)
        // sFOX reads JSON numbers as doubles: it got the double nearest to the decimal sent, which
        // (15 significant digits at most) reads back as that very decimal.
        expect(sent!.body.quantity).toBe(Number(quantity.text))
        expect(sent!.body.rate).toBe(Number(rate.text))
        expect(sameValue(plain(sent!.body.quantity), quantity.text)).toBe(true)
        expect(sameValue(plain(sent!.body.rate), rate.text)).toBe(true)
      }),
      { numRuns: 60 },
    )
  })
})
