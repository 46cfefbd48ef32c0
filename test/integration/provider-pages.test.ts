import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { createQiPartner, type QiSandbox, startQi, tedBody } from '../helpers/qi'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

// What the providers' own pages say, seen through the gateway: each documented answer reaches the
// partner as the API docs describe it, and the gateway's own limits are named as its own.
let gateway: Gateway
let tuned: Gateway
let sfox: SfoxSandbox
let qi: QiSandbox

beforeAll(async () => {
  ;[gateway, tuned, sfox, qi] = await Promise.all([
    startGateway(),
    startGateway({ vars: { QI_TOKEN_TTL_SECONDS: '120', QI_TOKEN_ATTEMPTS: '3', DOCUMENT_MAX_FILE_BYTES: '2000' } }),
    startSfox(),
    startQi(),
  ])
})
afterAll(async () => {
  await Promise.all([gateway?.close(), tuned?.close(), sfox?.close(), qi?.close()])
})

describe('sFOX create refusals documented on its Create Transfer page', () => {
  it("a missing enterprise transfer permission is 403 provider_permission_denied with sFOX's words, not a credentials problem", async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.setTransferPermission(p.sfoxAccount, false)
    const res = await p.call('POST', '/v1/transfers', paymentBody('perm-1'))
    expect(res.status).toBe(403)
    expect(res.body).toMatchObject({
      code: 'provider_permission_denied',
      provider_error: { provider: 'sfox', status: 403, message: 'Partner transfer permission not granted.' },
    })
    expect(res.body.detail).toContain('lacks the permission')
    // Refused, so nothing is kept: once sFOX grants it the same transfer_id goes through.
    await sfox.setTransferPermission(p.sfoxAccount, true)
    expect((await p.call('POST', '/v1/transfers', paymentBody('perm-1'))).status).toBe(201)
  })

  it('a restricted currency and insufficient funds are 422 provider_rejected with the exact texts', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.restrictCurrencies(p.sfoxAccount, ['eth'])
    const restricted = await p.call('POST', '/v1/transfers', paymentBody('cur-1'))
    expect(restricted.status).toBe(422)
    expect(restricted.body).toMatchObject({
      code: 'provider_rejected',
      provider_error: { status: 422, message: 'Restricted currency for partner or end user.' },
    })
    await sfox.restrictCurrencies(p.sfoxAccount, [])
    await sfox.setBalance(p.sfoxAccount, 'eth', 0.01, 'user-1')
    const poor = await p.call('POST', '/v1/transfers', paymentBody('cur-2'))
    expect(poor.status).toBe(422)
    expect(poor.body).toMatchObject({
      code: 'provider_rejected',
      provider_error: { status: 422, message: 'Insufficient funds.' },
    })
    // Neither was kept: after a top-up the same id works.
    await sfox.setBalance(p.sfoxAccount, 'eth', 10, 'user-1')
    expect((await p.call('POST', '/v1/transfers', paymentBody('cur-2'))).status).toBe(201)
  })
})

describe('QI resend: TED000087 "Error Sending Token"', () => {
  it('answers 502 provider_unavailable with QI’s code, and the resend is given back', async () => {
    const p = await createQiPartner(gateway, qi, { limits: { resend_cooldown_seconds: 0 } })
    const created = await p.call('POST', '/v1/transfers', tedBody('ted-87', p.accountKey))
    expect(created.status).toBe(201)
    await qi.settings({ resend_token_error: true })
    try {
      const res = await p.call('POST', '/v1/transfers/ted-87/resend', {})
      expect(res.status).toBe(502)
      expect(res.body).toMatchObject({
        code: 'provider_unavailable',
        provider_error: { provider: 'qi', status: 400, code: 'TED000087' },
      })
    } finally {
      await qi.settings({ resend_token_error: false })
    }
    const after = await p.call('GET', '/v1/transfers/ted-87')
    expect(after.body.verification).toMatchObject({ resends_used: 0, resends_remaining: 3 })
    // The first token's send time and expiry are back too: the refused send stamped nothing.
    const { code_sent_at, code_expires_at, channel } = created.body.verification
    expect(after.body.verification).toMatchObject({ code_sent_at, code_expires_at, channel })
    // QI's word is that no token went out, so no cooldown holds the partner back either.
    expect((await p.call('POST', '/v1/transfers/ted-87/resend', {})).status).toBe(200)
  })
})

describe("QI's token lifetime and attempts are settings (QI's page does not state them)", () => {
  it('QI_TOKEN_TTL_SECONDS sets code_expires_at and QI_TOKEN_ATTEMPTS caps the attempts', async () => {
    const p = await createQiPartner(tuned, qi)
    const { body: t } = await p.call('POST', '/v1/transfers', tedBody('ted-tuned', p.accountKey))
    const sent = Date.parse(t.verification.code_sent_at)
    expect(Date.parse(t.verification.code_expires_at) - sent).toBe(120_000)
    expect(t.verification.attempts_remaining).toBe(3)
  })
})

describe("the gateway's own document size limit", () => {
  it('is DOCUMENT_MAX_FILE_BYTES and says so; sFOX is never called', async () => {
    const p = await createSfoxPartner(tuned, sfox)
    await sfox.addUser('doc-user', p.sfoxAccount)
    const pdf = new Uint8Array(3000)
    pdf.set([0x25, 0x50, 0x44, 0x46, 0x2d])
    const form = new FormData()
    form.append('files', new Blob([pdf], { type: 'application/pdf' }), 'id.pdf')
    form.append('file_types', JSON.stringify({ 'id.pdf': 'ID' }))
    const res = await fetch(`${tuned.url}/v1/users/doc-user/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${p.key}` },
      body: form,
    })
    const body = (await res.json()) as any
    expect(res.status).toBe(422)
    expect(body.errors[0]).toMatchObject({ code: 'file_too_large', file: 'id.pdf' })
    expect(body.errors[0].message).toContain('DOCUMENT_MAX_FILE_BYTES')
    expect(await sfox.uploads(p.sfoxAccount, 'doc-user')).toEqual([])
  })
})
