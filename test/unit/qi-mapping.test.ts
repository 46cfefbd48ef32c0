import { createPrivateKey, generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { errorOf, snapshotOf, unifiedStatus } from '../../src/providers/qi/mapping'
import { toPkcs8Pem } from '../../src/providers/qi/pem'
import { parseQiWebhook } from '../../src/providers/qi/webhooks'

describe('QI status mapping', () => {
  it('maps every TED status', () => {
    expect(unifiedStatus('pending_2fa_approval')).toBe('pending_verification')
    expect(unifiedStatus('pending')).toBe('processing')
    expect(unifiedStatus('sent')).toBe('completed')
    expect(unifiedStatus('rejected', 'pending_verification')).toBe('failed')
    expect(unifiedStatus('rejected', 'processing')).toBe('failed')
    expect(unifiedStatus('returned', 'completed')).toBe('returned')
    expect(unifiedStatus('whatever')).toBeNull()
  })

  it('a rejection after the TED was sent is a return (the money came back)', () => {
    expect(unifiedStatus('rejected', 'completed')).toBe('returned')
  })

  it('carries the refusal reason of rejected and returned TEDs', () => {
    const refusal = {
      refusal_code: 1,
      enumerator: 'conta_destinatario_encerrada',
      description: 'Conta Destinatária do Crédito Encerrada',
    }
    expect(snapshotOf({ ted_key: 'k', ted_status: 'returned', refusal_reason: refusal }, 'completed')).toEqual({
      reference: 'k',
      providerStatus: 'returned',
      status: 'returned',
      failure: { code: 'conta_destinatario_encerrada', message: 'Conta Destinatária do Crédito Encerrada' },
    })
    expect(snapshotOf({ ted_key: 'k', ted_status: 'sent', refusal_reason: {} }).failure).toBeNull()
  })
})

describe('QI error mapping', () => {
  const envelope = (code: string, extra: object = {}) => ({
    title: 't',
    description: `d ${code}`,
    translation: 'p',
    code,
    extra_fields: extra,
  })

  it('maps the 2FA codes', () => {
    expect(errorOf(400, envelope('TED000084')).kind).toBe('invalid_code')
    expect(errorOf(400, envelope('TED000083')).kind).toBe('expired_code')
    expect(errorOf(404, envelope('TED000086')).kind).toBe('not_pending')
    expect(errorOf(400, envelope('TED000086')).kind).toBe('not_pending')
    expect(errorOf(404, envelope('TED000020')).kind).toBe('not_found')
  })

  it('TED000082 carries the rejected TED', () => {
    const error = errorOf(400, envelope('TED000082', { ted_data: { ted_key: 'k', ted_status: 'rejected' } }))
    expect(error).toMatchObject({
      kind: 'attempts_exhausted',
      code: 'TED000082',
      message: 'd TED000082',
      snapshot: { status: 'failed', reference: 'k' },
    })
  })

  it('maps auth, schema, account and outage codes', () => {
    expect(errorOf(401, envelope('GDF000014')).kind).toBe('unauthorized')
    expect(errorOf(400, envelope('GDF000003')).kind).toBe('unauthorized')
    expect(errorOf(404, envelope('GDF000018')).kind).toBe('unauthorized')
    expect(errorOf(400, envelope('QIT000001')).kind).toBe('rejected')
    expect(errorOf(404, envelope('TED000009')).kind).toBe('rejected')
    expect(errorOf(403, envelope('TED000018')).kind).toBe('rejected')
    expect(errorOf(500, envelope('QIT000500')).kind).toBe('unavailable')
    expect(errorOf(409, envelope('QIT000409')).kind).toBe('duplicate')
    expect(errorOf(502, '<html>bad gateway</html>')).toMatchObject({
      kind: 'unavailable',
      code: null,
      message: 'QI answered HTTP 502',
    })
  })
})

describe('QI private keys', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp521r1' })
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }).toString()

  it('passes PKCS#8 through and wraps SEC1 (openssl ecparam) into the same key', () => {
    expect(toPkcs8Pem(pkcs8)).toBe(pkcs8)
    const wrapped = toPkcs8Pem(sec1)!
    expect(wrapped).toContain('BEGIN PRIVATE KEY')
    const roundTrip = createPrivateKey(wrapped).export({ type: 'sec1', format: 'pem' }).toString()
    expect(roundTrip).toBe(sec1)
  })

  it('refuses anything else', () => {
    expect(toPkcs8Pem('not a key')).toBeNull()
    expect(toPkcs8Pem('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')).toBeNull()
  })
})

describe('QI webhook parsing', () => {
  it('needs a type and a TED that names itself, tolerating extra fields', () => {
    expect(
      parseQiWebhook(
        JSON.stringify({
          webhook_type: 'baas.ted.outgoing_ted',
          data: { ted_key: 'k', ted_status: 'sent', new_field: 1 },
        }),
      ),
    ).toEqual({
      type: 'baas.ted.outgoing_ted',
      ted: { ted_key: 'k', ted_status: 'sent', new_field: 1 },
    })
    for (const bad of [
      'x',
      'null',
      '[]',
      '{}',
      '{"webhook_type":"t"}',
      '{"webhook_type":"t","data":{}}',
      '{"data":{"ted_key":"k"}}',
    ]) {
      expect(parseQiWebhook(bad), bad).toBeNull()
    }
  })
})

describe('QI webhook keys', () => {
  it('only non-empty strings name a TED', () => {
    const parse = (data: unknown) => parseQiWebhook(JSON.stringify({ webhook_type: 'baas.ted.outgoing_ted', data }))
    expect(parse({ ted_key: 'x', request_control_key: [1, 2] })?.ted).toEqual({
      ted_key: 'x',
      request_control_key: undefined,
    })
    expect(parse({ ted_key: ['x'], request_control_key: 'r' })?.ted).toEqual({
      ted_key: undefined,
      request_control_key: 'r',
    })
    expect(parse({ ted_key: -1, request_control_key: {} })).toBeNull()
    expect(parse({ ted_key: '', request_control_key: null })).toBeNull()
  })
})
