import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Gateway, startGateway } from '../helpers/gateway'
import { createQiPartner, partnerKeyPair, type QiSandbox, startQi, tedBody } from '../helpers/qi'

// QI's documentation leaves open how it hashes a webhook's body, which uri it signs and how strictly a
// v1 answer is checked: each form QI may use is accepted, every forgery refused (default settings).
let gateway: Gateway
let qi: QiSandbox
let proxy: Server
let proxyUrl: string

beforeAll(async () => {
  ;[gateway, qi] = await Promise.all([startGateway(), startQi()])
  // A proxy in front of the gateway under another path, as an operator's edge might be.
  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name)),
    ) as Record<string, string>
    const answer = await fetch(`${gateway.url}/providers/qi/webhooks`, {
      method: req.method,
      headers,
      body: Buffer.concat(chunks),
    })
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' })
    res.end(Buffer.from(await answer.arrayBuffer()))
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/edge/qi-hooks`
})
afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve))
  await gateway?.close()
  await qi?.close()
})

// A name whose json.dumps form (\u00e3, \u00e7) differs from its UTF-8 bytes.
const ownerName = 'João Conceição'

/** A TED approved and sent, whose owner name is not ASCII; returns its key. */
const sentTed = async (p: Awaited<ReturnType<typeof createQiPartner>>, id: string) => {
  const body = tedBody(id, p.accountKey)
  const created = await p.call('POST', '/v1/transfers', {
    ...body,
    qi: { ...body.qi, target_account: { ...body.qi.target_account, owner_name: ownerName } },
  })
  expect(created.status, created.text).toBe(201)
  const tedKey = created.body.provider_reference as string
  const confirmed = await p.call('POST', `/v1/transfers/${id}/confirm`, { code: await qi.latestToken(tedKey) })
  expect(confirmed.body.status).toBe('completed')
  return tedKey
}

/** QI pushes a `returned` webhook; what the receiving end answered. */
const pushReturned = async (tedKey: string, tamper?: string) => {
  const sent = await qi.sendWebhook({ ted_key: tedKey, ted_status: 'returned', ...(tamper ? { tamper } : {}) })
  return sent
}

const withSettings = async (settings: Record<string, unknown>, run: () => Promise<void>) => {
  await qi.settings(settings)
  try {
    await run()
  } finally {
    await qi.settings({
      webhook_md5_form: 'raw',
      webhook_signed_uri: 'path',
      clock_offset_ms: 0,
      response_signing: 'header',
      v1_answer_content_type: 'application/json',
    })
  }
}

describe('QI webhooks: every form QI may sign is accepted', () => {
  it("accepts a body MD5 of Python's json.dumps form, with non-ASCII names, and of the raw bytes", async () => {
    const p = await createQiPartner(gateway, qi)
    const tedKey = await sentTed(p, 'ver-dumps')
    await withSettings({ webhook_md5_form: 'json_dumps' }, async () => {
      const sent = await pushReturned(tedKey)
      expect(sent.status, JSON.stringify(sent.body)).toBe(200)
      expect(sent.body).toMatchObject({ received: true, applied: true, transfer_status: 'returned' })
    })
    const raw = await createQiPartner(gateway, qi)
    const rawKey = await sentTed(raw, 'ver-raw')
    expect((await pushReturned(rawKey)).body).toMatchObject({ applied: true, transfer_status: 'returned' })
  })

  it('accepts a signed uri that is the full URL QI posted to', async () => {
    const p = await createQiPartner(gateway, qi)
    const tedKey = await sentTed(p, 'ver-full-url')
    await withSettings({ webhook_signed_uri: 'full_url' }, async () => {
      expect((await pushReturned(tedKey)).body).toMatchObject({ applied: true, transfer_status: 'returned' })
    })
  })

  it("behind a proxy, accepts the uri QI signed only once it is set as the connection's webhook_uri", async () => {
    const p = await createQiPartner(gateway, qi, { webhookUrl: proxyUrl })
    const tedKey = await sentTed(p, 'ver-proxy')
    const refused = await pushReturned(tedKey)
    expect(refused.status).toBe(401)
    expect(refused.body.code).toBe('webhook_signature_invalid')

    const put = await gateway.admin('PUT', `/partners/${p.id}/connections/qi?mode=test`, {
      api_client_key: p.apiClientKey,
      private_key_pem: partnerKeyPair().privateKeyPem,
      qi_public_key_pem: qi.qiPublicKeyPem,
      base_url: qi.url,
      account_keys: [p.accountKey],
      webhook_uri: '/edge/qi-hooks',
    })
    expect(put.status, put.text).toBe(200)
    expect(put.body.settings.webhook_uri).toBe('/edge/qi-hooks')
    const accepted = await pushReturned(tedKey)
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200)
    expect(accepted.body.received).toBe(true)
  })

  it('holds timestamps to QI_SIGNATURE_TOLERANCE_SECONDS (default 15 min): 10 min off passes, 20 min fails', async () => {
    const p = await createQiPartner(gateway, qi)
    const tedKey = await sentTed(p, 'ver-clock')
    await withSettings({ clock_offset_ms: -20 * 60_000 }, async () => {
      const stale = await pushReturned(tedKey)
      expect(stale.status).toBe(401)
    })
    await withSettings({ clock_offset_ms: -10 * 60_000 }, async () => {
      expect((await pushReturned(tedKey)).status).toBe(200)
    })
  })
})

const FORGERIES = ['signature', 'payload_md5', 'wrong_method', 'wrong_uri', 'api_client_key']

/** Each forgery is refused (401, the same problem); the untampered webhook is then accepted. */
const expectOnlyGenuineAccepted = async (tedKey: string, label: string) => {
  for (const tamper of FORGERIES) {
    const res = await pushReturned(tedKey, tamper)
    expect(res.status, `${label} ${tamper}`).toBe(401)
    expect(res.body.code).toBe('webhook_signature_invalid')
  }
  const genuine = await pushReturned(tedKey)
  expect(genuine.status, `${label} genuine: ${JSON.stringify(genuine.body)}`).toBe(200)
}

describe('QI webhooks: nothing forged is accepted, in any form QI may sign', () => {
  for (const form of ['raw', 'json_dumps']) {
    // (A stale time is refused above, beyond the default window.)
    it(`refuses a wrong key, a changed body, another method or uri, another API-CLIENT-KEY (${form})`, async () => {
      const p = await createQiPartner(gateway, qi)
      const tedKey = await sentTed(p, `ver-forged-${form}`)
      await withSettings({ webhook_md5_form: form }, () => expectOnlyGenuineAccepted(tedKey, form))
    })
  }

  it('refuses the same forgeries when QI signs the full URL', async () => {
    const p = await createQiPartner(gateway, qi)
    const tedKey = await sentTed(p, 'ver-forged-full-url')
    await withSettings({ webhook_signed_uri: 'full_url' }, () => expectOnlyGenuineAccepted(tedKey, 'full_url'))
  })

  it('refuses the same forgeries behind a proxy, for a connection with a webhook_uri', async () => {
    const p = await createQiPartner(gateway, qi, { webhookUrl: proxyUrl })
    const tedKey = await sentTed(p, 'ver-forged-webhook-uri')
    const put = await gateway.admin('PUT', `/partners/${p.id}/connections/qi?mode=test`, {
      api_client_key: p.apiClientKey,
      private_key_pem: partnerKeyPair().privateKeyPem,
      qi_public_key_pem: qi.qiPublicKeyPem,
      base_url: qi.url,
      account_keys: [p.accountKey],
      webhook_uri: '/edge/qi-hooks',
    })
    expect(put.status, put.text).toBe(200)
    await expectOnlyGenuineAccepted(tedKey, 'webhook_uri')
    // And with QI signing the proxy's full URL, which the gateway accepts only as the configured webhook_uri.
    const full = await gateway.admin('PUT', `/partners/${p.id}/connections/qi?mode=test`, {
      api_client_key: p.apiClientKey,
      private_key_pem: partnerKeyPair().privateKeyPem,
      qi_public_key_pem: qi.qiPublicKeyPem,
      base_url: qi.url,
      account_keys: [p.accountKey],
      webhook_uri: proxyUrl,
    })
    expect(full.status, full.text).toBe(200)
    await withSettings({ webhook_signed_uri: 'full_url' }, () =>
      expectOnlyGenuineAccepted(tedKey, 'webhook_uri full_url'),
    )
  })
})

describe('QI v1 answers', () => {
  it('are no stricter than QI’s sample on content type, and check the api-client-key header', async () => {
    const p = await createQiPartner(gateway, qi)
    await withSettings({ response_signing: 'encoded_body', v1_answer_content_type: '' }, async () => {
      const res = await p.call('POST', '/v1/transfers', tedBody('ver-v1-ct', p.accountKey))
      expect(res.status, res.text).toBe(201)
    })
    await withSettings({ response_signing: 'encoded_body', response_tamper: 'api_key_header' }, async () => {
      const res = await p.call('POST', '/v1/transfers', tedBody('ver-v1-key', p.accountKey))
      expect(res.status).toBe(502)
      expect(res.body.provider_error.message).toContain('api-client-key')
    })
    await qi.settings({ response_tamper: null })
  })
})
