import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDb } from '../helpers/db'
import { createPartner, createSfoxPartner, type Gateway, startGateway } from '../helpers/gateway'
import { paymentBody, type SfoxSandbox, startSfox } from '../helpers/sfox'

/**
 * GET /admin/health: what an operator asks before trusting a deployment — the database (latency,
 * migrations), the callback backlog, each cron job's last success, each provider's recent error rate
 * and failing connection checks — each measured, with the concerns in plain words.
 */

let gateway: Gateway
let sfox: SfoxSandbox
let db: ReturnType<typeof openDb>

beforeAll(async () => {
  // Provider counts reach the table after every call (not every 10 s) so the test need not wait.
  ;[gateway, sfox] = await Promise.all([startGateway({ vars: { PROVIDER_STATS_FLUSH_SECONDS: '0' } }), startSfox()])
  db = openDb(gateway.dbUrl)
})
afterAll(async () => {
  db?.close()
  await gateway?.close()
  await sfox?.close()
})

const report = async () => {
  const res = await gateway.admin('GET', '/health')
  expect(res.status, res.text).toBe(200)
  return res.body
}

describe('GET /admin/health', () => {
  it('is for operators only; /health stays public and cheap', async () => {
    expect((await gateway.request('GET', '/admin/health')).status).toBe(401)
    expect((await gateway.request('GET', '/health')).status).toBe(200)
  })

  it("reports the database, and a cron that never ran as a concern until a run records each job's success", async () => {
    const before = await report()
    expect(before.database.migrations).toMatchObject({ current: true })
    expect(before.database.latency_ms).toBeGreaterThanOrEqual(0)
    expect(before.status).toBe('degraded')
    expect(before.concerns).toContain('The cron job sweep has never succeeded: is the cron trigger deployed?')

    await gateway.cron()
    const after = await report()
    expect(after.cron.map((j: { job: string; ok: boolean }) => [j.job, j.ok])).toEqual([
      ['sweep', true],
      ['expire', true],
      ['reconcile', true],
      ['prune_history', true],
      ['prune_audit', true],
      ['prune_stats', true],
    ])
    expect(after.concerns.filter((c: string) => c.includes('cron'))).toEqual([])

    // A job that has not succeeded for a while is named, with how long ago.
    await db.all("UPDATE cron_jobs SET last_success_at = last_success_at - 600000 WHERE job = 'reconcile'")
    const stale = await report()
    expect(stale.cron.find((j: { job: string }) => j.job === 'reconcile').ok).toBe(false)
    expect(stale.concerns.some((c: string) => /^The cron job reconcile last succeeded 6\d\d s ago\.$/.test(c))).toBe(
      true,
    )
  })

  it("counts each provider's calls and failures (an outage, not a refusal) and names a high error rate", async () => {
    const p = await createSfoxPartner(gateway, sfox)
    await sfox.fault({ method: 'POST', path: '/v1/enterprise/transfer', status: 503, count: 3, apiKey: p.sfoxKey })
    for (const id of ['h-1', 'h-2', 'h-3'])
      expect((await p.call('POST', '/v1/transfers', paymentBody(id))).status).toBe(502)
    expect((await p.call('POST', '/v1/transfers', paymentBody('h-4'))).status).toBe(201)
    // A wrong code is the partner's mistake, not the provider's failure.
    expect((await p.call('POST', '/v1/transfers/h-4/confirm', { code: '000001' })).status).toBe(422)

    await expect
      .poll(async () => (await report()).providers.find((x: { provider: string }) => x.provider === 'sfox').calls, {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(5)
    const sfoxRate = (await report()).providers.find((x: { provider: string }) => x.provider === 'sfox')
    expect(sfoxRate).toMatchObject({ failures: 3, last_failure_kind: 'unavailable', window_seconds: 900 })
    expect(sfoxRate.error_rate).toBeCloseTo(3 / sfoxRate.calls, 3)
    expect((await report()).concerns).toContain(`sfox: 3 of ${sfoxRate.calls} calls failed in the last 15 minutes.`)
  })

  it('reports the callback backlog: due deliveries and how long the oldest has waited', async () => {
    const p = await createSfoxPartner(gateway, sfox)
    // A receiver that is not there: the delivery stays pending, retried later.
    const endpoint = await p.call('POST', '/v1/webhook-endpoints', {
      url: 'http://127.0.0.1:9/nobody',
      event_types: ['transfer.created'],
    })
    expect(endpoint.status, endpoint.text).toBe(201)
    await p.call('POST', '/v1/transfers', paymentBody('h-backlog'))
    // Once its first attempt has failed, it waits; twenty minutes later it would be long overdue.
    let delivery: { id: string } | undefined
    await expect
      .poll(
        async () => {
          ;[delivery] = await db.all<{ id: string }>(
            "SELECT id FROM deliveries WHERE endpoint_id = ? AND status = 'pending' AND attempts >= 1 AND locked_until IS NULL",
            [endpoint.body.id],
          )
          return delivery
        },
        { timeout: 10_000 },
      )
      .toBeDefined()
    await db.all('UPDATE deliveries SET next_attempt_at = ? WHERE id = ?', [Date.now() - 20 * 60_000, delivery!.id])
    const r = await report()
    expect(r.deliveries.due).toBeGreaterThanOrEqual(1)
    expect(r.deliveries.oldest_due_age_seconds).toBeGreaterThanOrEqual(1200)
    expect(r.concerns.some((c: string) => c.startsWith('Callback deliveries are overdue: the oldest has waited'))).toBe(
      true,
    )
  })

  it('lists connections whose last check failed, with the checks that failed', async () => {
    const p = await createPartner(gateway)
    const put = await gateway.admin('PUT', `/partners/${p.id}/connections/sfox?mode=test`, {
      api_key: 'not-a-key-sfox-knows',
      base_url: sfox.url,
    })
    expect(put.body.last_check.ok).toBe(false)
    const failing = (await report()).connection_checks.failing.find(
      (f: { partner_id: string }) => f.partner_id === p.id,
    )
    expect(failing).toMatchObject({ provider: 'sfox', mode: 'test' })
    expect(failing.failed).toContain('authentication')
  })
})
