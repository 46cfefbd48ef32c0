import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXAMPLES } from '../../src/schemas/examples'
import { openDb } from '../helpers/db'
import { createPartner, type Gateway, startGateway } from '../helpers/gateway'
import { type Receiver, startReceiver } from '../helpers/receiver'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

/**
 * Test mode with no connection at all: the gateway's own simulator Worker (behind SIMULATOR) plays
 * sFOX and QI, codes are read through the test-only endpoints, outcomes are driven the same way,
 * and callbacks follow as they would with a real provider. Live keys never reach it.
 */

const until = <T>(fn: () => Promise<T> | T, timeout = 10_000) => expect.poll(fn, { timeout, interval: 100 })

let gateway: Gateway
let sfox: SfoxSandbox
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  ;[gateway, sfox] = await Promise.all([startGateway(), startSfox()])
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
  await sfox?.close()
})

/** A partner with only a test key, no connection, and a receiver for every callback. */
const testPartner = async () => {
  const partner = await createPartner(gateway, { name: 'Simulated' })
  const receiver = await startReceiver()
  const endpoint = await partner.call('POST', '/v1/webhook-endpoints', { url: receiver.url })
  expect(endpoint.status).toBe(201)
  receiver.trust(endpoint.body.secret)
  return { partner, receiver }
}

const eventsOf = (receiver: Receiver, transferId: string) =>
  receiver
    .verified()
    .filter((r) => r.body.transfer_id === transferId)
    .sort((a, b) => a.body.sequence - b.body.sequence)
    .map((r) => [r.body.type, r.body.data.object.status])

const tedBody = (transferId: string) => ({ ...EXAMPLES.createQi, transfer_id: transferId })

describe('a partner with only a test key and no connection', () => {
  const receivers: Receiver[] = []
  afterAll(async () => {
    for (const r of receivers) await r.close()
  })

  it('completes an sFOX PAYMENT end to end, callbacks included', async () => {
    const { partner, receiver } = await testPartner()
    receivers.push(receiver)
    const created = await partner.call('POST', '/v1/transfers', paymentBody('sim-pay-1'))
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ livemode: false, status: 'pending_verification', provider_status: 'PENDING' })

    const code = await partner.call('GET', '/v1/test/transfers/sim-pay-1/code')
    expect(code.status).toBe(200)
    expect(code.body).toMatchObject({ object: 'test_code', transfer_id: 'sim-pay-1', livemode: false })
    expect(code.body.code).toMatch(/^\d{6}$/)

    const wrong = String((Number(code.body.code) + 1) % 1_000_000).padStart(6, '0')
    const refused = await partner.call('POST', '/v1/transfers/sim-pay-1/confirm', { code: wrong })
    expect(refused.body.code).toBe('verification_code_invalid')

    const confirmed = await partner.call('POST', '/v1/transfers/sim-pay-1/confirm', { code: code.body.code })
    expect(confirmed.status).toBe(200)
    expect(confirmed.body).toMatchObject({ status: 'completed', provider_status: 'COMPLETE' })
    await until(() => eventsOf(receiver, 'sim-pay-1')).toEqual([
      ['transfer.created', 'pending_verification'],
      ['transfer.completed', 'completed'],
    ])
    // The simulated account is the database's, not a memory: it outlives the request.
    const rows = await db.all<{ provider: string }>('select provider from simulator_state where partner_id = ?', [
      partner.id,
    ])
    expect(rows.map((r) => r.provider)).toEqual(['sfox'])
  })

  it('completes a QI TED end to end with the example body, callbacks included', async () => {
    const { partner, receiver } = await testPartner()
    receivers.push(receiver)
    const created = await partner.call('POST', '/v1/transfers', tedBody('sim-ted-1'))
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ livemode: false, status: 'pending_verification' })

    const code = await partner.call('GET', '/v1/test/transfers/sim-ted-1/code')
    expect(code.status).toBe(200)
    const confirmed = await partner.call('POST', '/v1/transfers/sim-ted-1/confirm', { code: code.body.code })
    expect(confirmed.status).toBe(200)
    // The simulated QI sends an approved TED at once (the sandbox's default approval outcome).
    expect(confirmed.body).toMatchObject({ status: 'completed', provider_status: 'sent' })
    const again = await partner.call('POST', '/v1/test/transfers/sim-ted-1/complete')
    expect(again.status).toBe(409)
    expect(again.body.code).toBe('outcome_not_allowed')
    await until(() => eventsOf(receiver, 'sim-ted-1')).toEqual([
      ['transfer.created', 'pending_verification'],
      ['transfer.completed', 'completed'],
    ])
  })

  it('reaches every outcome a partner must handle: failed, returned, canceled', async () => {
    const { partner, receiver } = await testPartner()
    receivers.push(receiver)
    await partner.call('POST', '/v1/transfers', tedBody('sim-ted-fail'))
    const failed = await partner.call('POST', '/v1/test/transfers/sim-ted-fail/fail')
    expect(failed.body).toMatchObject({ status: 'failed', provider_status: 'rejected' })

    await partner.call('POST', '/v1/transfers', tedBody('sim-ted-return'))
    await partner.call('POST', '/v1/test/transfers/sim-ted-return/complete')
    const returned = await partner.call('POST', '/v1/test/transfers/sim-ted-return/return')
    expect(returned.body).toMatchObject({ status: 'returned' })

    await partner.call('POST', '/v1/transfers', paymentBody('sim-pay-fail'))
    const canceled = await partner.call('POST', '/v1/test/transfers/sim-pay-fail/fail')
    expect(canceled.body).toMatchObject({ status: 'canceled', provider_status: 'CANCELED' })
    const noReturn = await partner.call('POST', '/v1/test/transfers/sim-pay-fail/return')
    expect(noReturn.status).toBe(409)
    expect(noReturn.body.code).toBe('outcome_not_allowed')
    await partner.call('POST', '/v1/transfers', paymentBody('sim-pay-noreturn'))
    await partner.call('POST', '/v1/test/transfers/sim-pay-noreturn/complete')
    const sfoxReturn = await partner.call('POST', '/v1/test/transfers/sim-pay-noreturn/return')
    expect(sfoxReturn.status).toBe(422)
    expect(sfoxReturn.body.code).toBe('provider_rejected')
    const late = await partner.call('POST', '/v1/test/transfers/sim-pay-noreturn/fail')
    expect(late.body).toMatchObject({ code: 'outcome_not_allowed', transfer_status: 'completed' })

    await until(() => eventsOf(receiver, 'sim-ted-return').map(([type]) => type)).toContain('transfer.returned')
    await until(() => eventsOf(receiver, 'sim-ted-fail').map(([type]) => type)).toContain('transfer.failed')
    await until(() => eventsOf(receiver, 'sim-pay-fail').map(([type]) => type)).toContain('transfer.canceled')
  })

  it('takes KYC documents for any end user (the simulator knows every user_id)', async () => {
    const partner = await createPartner(gateway, { name: 'Documents' })
    const form = new FormData()
    form.append('files', new Blob(['%PDF-1.4 test'], { type: 'application/pdf' }), 'passport.pdf')
    form.append('file_types', JSON.stringify({ 'passport.pdf': 'ID' }))
    const res = await fetch(`${gateway.url}/v1/users/anyone-at-all/documents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${partner.key}`, 'idempotency-key': 'sim-docs-1' },
      body: form,
    })
    const body = (await res.json()) as any
    expect(res.status).toBe(202)
    expect(body).toMatchObject({ object: 'document_submission', livemode: false, status: 'submitted' })
  })

  it('keeps partners apart: one partner cannot read or drive another one’s test transfer', async () => {
    const a = await createPartner(gateway, { name: 'A' })
    const b = await createPartner(gateway, { name: 'B' })
    await a.call('POST', '/v1/transfers', paymentBody('sim-shared-id'))
    expect((await b.call('GET', '/v1/test/transfers/sim-shared-id/code')).status).toBe(404)
    expect((await b.call('POST', '/v1/test/transfers/sim-shared-id/complete')).status).toBe(404)
    // The same transfer_id at B is B's own simulated transfer, with its own code.
    await b.call('POST', '/v1/transfers', paymentBody('sim-shared-id'))
    const [codeA, codeB] = await Promise.all([
      a.call('GET', '/v1/test/transfers/sim-shared-id/code'),
      b.call('GET', '/v1/test/transfers/sim-shared-id/code'),
    ])
    expect(codeA.status).toBe(200)
    expect(codeB.status).toBe(200)
    const completeB = await b.call('POST', '/v1/transfers/sim-shared-id/confirm', { code: codeB.body.code })
    expect(completeB.body.status).toBe('completed')
    expect((await a.call('GET', '/v1/transfers/sim-shared-id')).body.status).toBe('pending_verification')
  })
})

describe('the wall between modes', () => {
  it('a live key never reaches the simulator, and the test-only routes do not exist for it', async () => {
    const partner = await gateway.admin('POST', '/partners', { name: 'Live only' })
    const key = await gateway.admin('POST', `/partners/${partner.body.id}/api-keys`, { mode: 'live' })
    const live = (method: string, path: string, body?: unknown) =>
      gateway.request(method, path, { body, key: key.body.key })
    const res = await live('POST', '/v1/transfers', paymentBody('live-1'))
    expect(res.body.code).toBe('provider_not_configured')
    expect((await live('GET', '/v1/test/transfers/live-1/code')).body.code).toBe('not_found')
    expect((await live('POST', '/v1/test/transfers/live-1/complete')).body.code).toBe('not_found')
    const rows = await db.all('select * from simulator_state where partner_id = ?', [partner.body.id])
    expect(rows).toEqual([])
  })

  it('a test key with its own test connection uses it, never the simulator, and has no simulated codes', async () => {
    const account = await sfox.newAccount()
    const partner = await createPartner(gateway, { sfox: { baseUrl: sfox.url, apiKey: account.api_key } })
    const created = await partner.call('POST', '/v1/transfers', paymentBody('own-1'))
    expect(created.status).toBe(201)
    expect(await sfox.latestCode(created.body.provider_reference)).toMatch(/^\d+$/)
    const code = await partner.call('GET', '/v1/test/transfers/own-1/code')
    expect(code.status).toBe(409)
    expect(code.body.code).toBe('not_simulated')
    const rows = await db.all('select * from simulator_state where partner_id = ?', [partner.id])
    expect(rows).toEqual([])
  })

  it('without the SIMULATOR binding a test key with no connection is provider_not_configured', async () => {
    const plain = await startGateway({ simulator: false })
    try {
      const partner = await createPartner(plain)
      const res = await partner.call('POST', '/v1/transfers', paymentBody('plain-1'))
      expect(res.status).toBe(422)
      expect(res.body.code).toBe('provider_not_configured')
    } finally {
      await plain.close()
    }
  })
})
