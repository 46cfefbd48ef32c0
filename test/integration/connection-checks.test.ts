import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateP521KeyPair } from '../../sandbox/qi/keys'
import { createPartner, createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { createQiPartner, partnerKeyPair, type QiSandbox, startQi, tedBody } from '../helpers/qi'
import { type SfoxSandbox, startSfox } from '../helpers/sfox'

let gateway: Gateway
let sfox: SfoxSandbox
let qi: QiSandbox

beforeAll(async () => {
  ;[gateway, sfox, qi] = await Promise.all([startGateway(), startSfox(), startQi()])
})
afterAll(async () => {
  await Promise.all([gateway?.close(), sfox?.close(), qi?.close()])
})

const UNREACHABLE = 'http://127.0.0.1:9'

type Check = { name: string; ok: boolean; detail: string; duration_ms: number }
const check = async (partnerId: string, provider: 'sfox' | 'qi') => {
  const res = await gateway.admin('POST', `/partners/${partnerId}/connections/${provider}/check?mode=test`)
  expect(res.status, res.text).toBe(200)
  expect(res.body).toMatchObject({ object: 'connection_check', provider })
  return res.body as { ok: boolean; checked_at: string; checks: Check[] }
}
const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]))
const connectionOf = async (partnerId: string, provider: string) =>
  (await gateway.admin('GET', `/partners/${partnerId}/connections`)).body.data.find(
    (c: { provider: string }) => c.provider === provider,
  )

describe('sFOX connection checks', () => {
  it('good credentials: every check passes, and the check that follows a PUT is stored as last_check', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await expect.poll(async () => (await connectionOf(p.id, 'sfox')).last_check?.ok, { timeout: 10_000 }).toBe(true)
    const result = await check(p.id, 'sfox')
    expect(result.ok).toBe(true)
    expect(result.checks.map((c) => c.name)).toEqual(['reachable', 'authentication', 'transfer_permission'])
    expect(result.checks.every((c) => c.ok && c.duration_ms >= 0)).toBe(true)
    expect((await connectionOf(p.id, 'sfox')).last_check).toEqual({
      ok: true,
      checked_at: result.checked_at,
      checks: result.checks,
    })
  })

  it('a wrong key fails authentication with what to fix, and never echoes the key', async () => {
    const account = await sfox.newAccount()
    const p = await createPartner(gateway, { sfox: { baseUrl: sfox.url, apiKey: 'not-the-real-key-0123456789' } })
    const result = await check(p.id, 'sfox')
    const checks = byName(result.checks)
    expect(result.ok).toBe(false)
    expect(checks.reachable!.ok).toBe(true)
    expect(checks.authentication).toMatchObject({ ok: false })
    expect(checks.authentication!.detail).toMatch(/HTTP 401.*API key is wrong/)
    expect(checks.transfer_permission!.detail).toContain('Not checked')
    expect(JSON.stringify(result)).not.toContain('not-the-real-key')
    expect(JSON.stringify(result)).not.toContain(account.api_key)
  })

  it('a key without the enterprise transfer permission fails only that check, naming it', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.setTransferPermission(p.sfoxAccount, false)
    const checks = byName((await check(p.id, 'sfox')).checks)
    expect(checks.authentication!.ok).toBe(true)
    expect(checks.transfer_permission).toMatchObject({ ok: false })
    expect(checks.transfer_permission!.detail).toBe(
      'sFOX has not enabled PAYMENT and PAYOUT transfers for this account: ask sFOX to enable them.',
    )
    // Granted again, the check passes.
    await sfox.setTransferPermission(p.sfoxAccount, true)
    expect((await check(p.id, 'sfox')).ok).toBe(true)
  })

  it("sFOX's documented 403 for a missing permission fails transfer_permission with what to do", async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({
      method: 'GET',
      path: '/v1/enterprise/transfer/permissions',
      status: 403,
      body: { error: 'Partner transfer permission not granted.' },
      apiKey: p.sfoxKey,
    })
    const checks = byName((await check(p.id, 'sfox')).checks)
    expect(checks.transfer_permission).toMatchObject({ ok: false })
    expect(checks.transfer_permission!.detail).toContain('Partner transfer permission not granted.')
    expect(checks.transfer_permission!.detail).toContain('lacks the enterprise transfer permission')
  })

  it('an answer the check cannot read fails that check, never the request', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({
      method: 'GET',
      path: '/v1/enterprise/transfer/permissions',
      status: 200,
      body: { data: { PAYMENT: true } },
      apiKey: p.sfoxKey,
    })
    const checks = byName((await check(p.id, 'sfox')).checks)
    expect(checks.transfer_permission).toMatchObject({ ok: false })
    expect(checks.transfer_permission!.detail).toMatch(/could not be read|cannot read/)
  })

  it('an unreachable base URL fails reachable and checks nothing else', async () => {
    const p = await createPartner(gateway, { sfox: { baseUrl: UNREACHABLE, apiKey: 'k'.repeat(32) } })
    const checks = byName((await check(p.id, 'sfox')).checks)
    expect(checks.reachable).toMatchObject({ ok: false })
    expect(checks.reachable!.detail).toContain(`Could not reach ${UNREACHABLE}`)
    expect(checks.authentication!.detail).toContain('Not checked')
  })
})

describe('QI connection checks', () => {
  const putQi = (partnerId: string, body: Record<string, unknown>) =>
    gateway.admin('PUT', `/partners/${partnerId}/connections/qi?mode=test`, body)

  it('good credentials: every check passes, and the signed-uri form QI accepts is remembered', async () => {
    const p = await createQiPartner(gateway, qi)
    const result = await check(p.id, 'qi')
    expect(result.checks.map((c) => c.name)).toEqual([
      'reachable',
      'clock_skew',
      'authentication',
      'answer_signature',
      'signed_query',
      'non_ascii_body',
    ])
    expect(result.checks.filter((c) => !c.ok)).toEqual([])
    expect(result.ok).toBe(true)
    expect((await connectionOf(p.id, 'qi')).settings).toMatchObject({ signed_uri_query: 'excluded' })
  })

  it('when QI signs the query string into the uri, the check learns it and calls are signed so from then on', async () => {
    await qi.settings({ signed_uri_query: 'included' })
    try {
      const p = await createQiPartner(gateway, qi)
      const checks = byName((await check(p.id, 'qi')).checks)
      expect(checks.signed_query).toMatchObject({ ok: true })
      expect(checks.signed_query!.detail).toContain('wants the query string')
      expect((await connectionOf(p.id, 'qi')).settings).toMatchObject({ signed_uri_query: 'included' })
      // The next check signs that way at once.
      expect((await check(p.id, 'qi')).ok).toBe(true)
    } finally {
      await qi.settings({ signed_uri_query: 'excluded' })
    }
  })

  // QI's pages do not say which uri QI signs its own answers over: the path alone or path + query.
  for (const answerUri of ['path', 'path_and_query'] as const) {
    it(`once the check learned signed_uri_query "included", a create whose answer was lost is found by request_control_key (answers signed over the ${answerUri})`, async () => {
      await qi.settings({ signed_uri_query: 'included', answer_signed_uri: answerUri })
      try {
        const p = await createQiPartner(gateway, qi)
        const checks = byName((await check(p.id, 'qi')).checks)
        expect(checks.signed_query).toMatchObject({ ok: true })
        expect((await connectionOf(p.id, 'qi')).settings).toMatchObject({ signed_uri_query: 'included' })

        // QI makes the TED but its answer is lost: a proxy in front of QI times out after QI did the work.
        const tedPath = `/account/${p.accountKey}/ted`
        await qi.fault({
          method: 'POST',
          path: '/account/:ak/ted',
          status: 504,
          after: true,
          apiClientKey: p.apiClientKey,
        })
        const id = `lost-answer-${answerUri}`
        const lost = await p.call('POST', '/v1/transfers', tedBody(id, p.accountKey))
        expect(lost.status, lost.text).toBe(502)
        expect((await p.call('GET', `/v1/transfers/${id}`)).body).toMatchObject({
          status: 'submitting',
          provider_reference: null,
        })
        await expect
          .poll(async () => (await qi.requests({ method: 'POST', path: tedPath })).length, { timeout: 15_000 })
          .toBe(1)

        const retried = await p.call('POST', '/v1/transfers', tedBody(id, p.accountKey))
        expect(retried.status, retried.text).toBe(201)
        expect(retried.body.status).toBe('pending_verification')
        // Adopted through the lookup (signed with the query, its answer verified), not created twice.
        const lookups = await qi.requests({ method: 'GET', path: `/account/${p.accountKey}/teds` })
        expect(lookups.map((r) => r.status)).toEqual([200])
        expect(await qi.requests({ method: 'POST', path: tedPath })).toHaveLength(1)
        const token = await qi.latestToken(retried.body.provider_reference)
        expect((await p.call('POST', `/v1/transfers/${id}/confirm`, { code: token })).body.status).toBe('completed')
      } finally {
        await qi.settings({ signed_uri_query: 'excluded', answer_signed_uri: 'path' })
      }
    })
  }

  it('an answer to the signed-query GET that does not verify fails signed_query and teaches nothing', async () => {
    const p = await createQiPartner(gateway, qi)
    await expect
      .poll(async () => (await connectionOf(p.id, 'qi')).settings?.signed_uri_query, { timeout: 10_000 })
      .toBe('excluded')
    // Every answer now names another uri than the request's: QI accepted the request, its answer proves nothing.
    await qi.settings({ response_tamper: 'wrong_uri' })
    try {
      const checks = byName((await check(p.id, 'qi')).checks)
      expect(checks.authentication!.ok).toBe(true)
      expect(checks.answer_signature!.ok).toBe(false)
      expect(checks.signed_query).toMatchObject({ ok: false })
      expect(checks.signed_query!.detail).toContain('signed uri does not match')
      expect(checks.signed_query!.detail).toContain('request_control_key')
      expect((await connectionOf(p.id, 'qi')).settings).toMatchObject({ signed_uri_query: 'excluded' })
    } finally {
      await qi.settings({ response_tamper: null })
    }
  })

  it("a wrong QI public key fails answer_signature (QI's answers cannot be trusted)", async () => {
    const p = await createQiPartner(gateway, qi, { qiPublicKeyPem: generateP521KeyPair().publicKeyPem })
    const checks = byName((await check(p.id, 'qi')).checks)
    expect(checks.authentication!.ok).toBe(true)
    expect(checks.answer_signature).toMatchObject({ ok: false })
    expect(checks.answer_signature!.detail).toContain('qi_public_key_pem')
  })

  it('a private key QI does not know fails authentication with what to fix, and leaks no key', async () => {
    const p = await createQiPartner(gateway, qi)
    const stranger = generateP521KeyPair()
    const put = await putQi(p.id, {
      api_client_key: p.apiClientKey,
      private_key_pem: stranger.privateKeyPem,
      qi_public_key_pem: qi.qiPublicKeyPem,
      base_url: qi.url,
      account_keys: [p.accountKey],
    })
    expect(put.status).toBe(200)
    expect(put.body.last_check).toMatchObject({ ok: false })
    const result = await check(p.id, 'qi')
    const checks = byName(result.checks)
    expect(checks.authentication).toMatchObject({ ok: false })
    expect(checks.authentication!.detail).toMatch(/HTTP 401.*private_key_pem/)
    expect(checks.signed_query!.detail).toContain('Not checked')
    const text = JSON.stringify(result)
    for (const secret of [stranger.privateKeyPem, partnerKeyPair().privateKeyPem]) {
      expect(text).not.toContain(secret.split('\n')[1])
    }
  })

  it('an unreachable base URL fails reachable; nothing else is tried', async () => {
    const p = await createQiPartner(gateway, qi)
    await putQi(p.id, {
      api_client_key: p.apiClientKey,
      private_key_pem: partnerKeyPair().privateKeyPem,
      qi_public_key_pem: qi.qiPublicKeyPem,
      base_url: UNREACHABLE,
      account_keys: [p.accountKey],
    })
    const result = await check(p.id, 'qi')
    expect(result.checks[0]).toMatchObject({ name: 'reachable', ok: false })
    expect(result.checks[0]!.detail).toContain(`Could not reach ${UNREACHABLE}`)
    expect(result.checks.slice(1).every((c) => !c.ok && c.detail.startsWith('Not checked'))).toBe(true)
  })

  it('a clock 20 minutes off fails clock_skew, and authentication says why', async () => {
    const p = await createQiPartner(gateway, qi)
    await qi.settings({ clock_offset_ms: 20 * 60_000 })
    try {
      const checks = byName((await check(p.id, 'qi')).checks)
      expect(checks.clock_skew).toMatchObject({ ok: false })
      expect(checks.clock_skew!.detail).toMatch(/QI's clock is 1[12]\d\d s ahead of ours/)
      expect(checks.authentication).toMatchObject({ ok: false })
      expect(checks.authentication!.detail).toContain('see clock_skew')
    } finally {
      await qi.settings({ clock_offset_ms: 0 })
    }
  })

  it('unknown partners and connections are 404', async () => {
    expect((await gateway.admin('POST', '/partners/ptn_nope/connections/qi/check?mode=test')).body.code).toBe(
      'partner_not_found',
    )
    const p = await createPartner(gateway)
    expect((await gateway.admin('POST', `/partners/${p.id}/connections/qi/check?mode=test`)).body.code).toBe(
      'connection_not_found',
    )
  })
})
