import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { newStats } from '../../bench/soak/client'
import { formatReport } from '../../bench/soak/invariants'
import { createPartners, runFlow, type SoakPartner } from '../../bench/soak/partners'
import { runSoak } from '../../bench/soak/soak'
import { type SoakStack, startSoakStack } from '../../bench/soak/stack'
import { generateP521KeyPair } from '../../sandbox/qi/keys'

// The short soak (`npm run soak` is the long one, bench/README.md#soak): a few hundred operations
// from three careful partners under overlapping faults, libSQL stopped and started, the Worker
// restarted, then every invariant checked. Nothing is asserted on time; the figures are printed.
// Its own libSQL server and sandboxes (the shared server cannot be stopped under other files).

const settings = {
  pendingTtlSeconds: 10,
  providerTimeoutMs: 1_500,
  webhookTimeoutMs: 1_000,
  resendLimit: 3,
  confirmAttempts: 5,
}

describe('soak (short)', () => {
  it('holds every invariant under load and combined faults', { timeout: 600_000 }, async () => {
    const report = await runSoak({
      durationMs: 25_000,
      partners: 3,
      concurrency: 3,
      maxFlowsPerPartner: 80,
      // A busy machine gets through fewer flows in 25 s (66 requests with a CPU hog beside the suite).
      minFlowsPerPartner: 15,
      dbDownMs: 2_500,
      settleMs: 150_000,
      seed: 15,
      settings,
      scriptPath: inject('workerScript'),
      workerOptions: JSON.parse(inject('workerOptions')),
      log: () => {},
    })
    console.log(formatReport(report))
    const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.figure}\n  ${c.details.join('\n  ')}`)
    expect(failed).toEqual([])
    // It did something: a few hundred requests, every flow kind's answers among them.
    const requests = report.latency.reduce((sum, l) => sum + l.count, 0)
    expect(requests).toBeGreaterThan(100)
    expect(report.latency.map((l) => l.op)).toEqual(
      expect.arrayContaining(['create', 'confirm', 'resend', 'cancel', 'upload']),
    )
  })
})

// Focused checks of what the soak found, on a stack of their own.
describe('soak findings', () => {
  let stack: SoakStack
  let partner: SoakPartner
  const closers: (() => Promise<void>)[] = []

  beforeAll(async () => {
    stack = await startSoakStack({
      scriptPath: inject('workerScript'),
      workerOptions: JSON.parse(inject('workerOptions')),
      settings,
    })
    const partners = await createPartners(stack, 1, generateP521KeyPair(), newStats(), {
      requestTimeoutMs: 30_000,
      giveUpMs: 0,
      stopping: () => true,
    })
    partner = partners[0]!
    for (const e of partner.endpoints) closers.push(e.receiver.close)
  })
  afterAll(async () => {
    for (const close of closers) await close()
    await stack?.close()
  })

  it('with libSQL stopped, every route answers 503 service_unavailable, never 500 (documents included)', async () => {
    // A transfer to read, made while the database is up (the key is cached from here on).
    expect(await runFlow('sfox_expire', partner, 1, () => 0.9, stack.qi.url)).toBe('left to expire')
    await stack.stopDb()
    try {
      const form = new FormData()
      form.append('files', new Blob(['%PDF-1.4 x'], { type: 'application/pdf' }), 'id.pdf')
      form.append('file_types', JSON.stringify({ 'id.pdf': 'ID' }))
      const answers = [
        await partner.client.call('upload', 'POST', `/v1/users/${partner.userId}/documents`, undefined, {
          headers: { 'idempotency-key': 'db-down-1' },
          raw: form,
        }),
        await partner.client.call('get', 'GET', '/v1/transfers/p0-sfox_expire-1'),
        await partner.client.call('create', 'POST', '/v1/transfers', {
          transfer_id: 'db-down-2',
          provider: 'sfox',
          sfox: {
            user_id: 'u',
            type: 'PAYMENT',
            purpose: 'GOOD',
            currency: 'eth',
            quantity: '1',
            rate: '1',
            description: 'x',
          },
        }),
        await partner.client.call('setup', 'GET', '/v1/webhook-endpoints'),
        await partner.client.call('setup', 'GET', '/v1/events?limit=5'),
        await partner.client.call('cancel', 'POST', '/v1/transfers/p0-sfox_expire-1/cancel'),
      ]
      expect(answers.map((a) => (a === 'error' || a === 'timeout' ? a : `${a.status} ${a.body?.code}`))).toEqual(
        Array(answers.length).fill('503 service_unavailable'),
      )
    } finally {
      await stack.startDb()
    }
    expect(stack.unhandled).toEqual([])
  })

  it('a QI resend answered 502 after the token went out stays counted, so QI never sends more than the limit', async () => {
    const created = await partner.client.call('create', 'POST', '/v1/transfers', {
      transfer_id: 'resend-502',
      provider: 'qi',
      qi: {
        account_key: partner.qiAccount,
        amount: '10.00',
        target_account: {
          account_branch: '0001',
          account_digit: '6',
          account_number: '78340',
          owner_document_number: '32402502000135',
          owner_name: 'QI Tech',
          account_type: 'checking_account',
          ispb: '12345678',
        },
        approver_document_number: '98765432100',
        contact_type: 'sms',
      },
    })
    if (created === 'error' || created === 'timeout') throw new Error(`create: ${created}`)
    expect(created.status).toBe(201)
    const tedKey = created.body.provider_reference as string
    const resent = () => stack.qi.state.tokens.filter((t) => t.ted_key === tedKey && t.reason === 'resend').length
    await fetch(`${stack.qi.url}/_sandbox/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        method: 'PATCH',
        path: '/account/:account_key/ted/:ted_key/resend_token',
        after: true,
        status: 502,
        headers: { 'api-client-key': partner.qiApiClientKey },
      }),
    })
    // The code sent at creation starts the 1 s cooldown: ask until it has passed (Retry-After).
    const deadline = Date.now() + 30_000
    let answer = await partner.client.call('resend', 'POST', '/v1/transfers/resend-502/resend', {})
    while (
      answer !== 'error' &&
      answer !== 'timeout' &&
      answer.body?.code === 'resend_cooldown' &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      answer = await partner.client.call('resend', 'POST', '/v1/transfers/resend-502/resend', {})
    }
    if (answer === 'error' || answer === 'timeout') throw new Error(`resend: ${answer}`)
    expect(answer.status).toBe(502)
    expect(resent()).toBe(1)
    const read = await partner.client.call('get', 'GET', '/v1/transfers/resend-502')
    if (read === 'error' || read === 'timeout') throw new Error(`get: ${read}`)
    expect(read.body.verification).toMatchObject({ resends_used: 1, resends_remaining: settings.resendLimit - 1 })
  })
})
