import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  collectPageErrors,
  expectAccessible,
  expectNoHorizontalScroll,
  launchBrowser,
  saveScreenshot,
  VIEWPORT_WIDTHS,
  visit,
  withPage,
} from '../helpers/browser'
import { createPartner, type Gateway, startGateway } from '../helpers/gateway'
import { type Receiver, startReceiver } from '../helpers/receiver'
import { paymentBody } from '../helpers/sfox'

/**
 * The partner portal in real Chromium: a partner logs in through a magic link, walks every page at
 * phone and desktop widths (each page accessible, no sideways scroll, no CSP or console error,
 * screenshotted), finds what happened to a transfer and its callbacks, redelivers one to a real
 * receiver (which verifies it with standardwebhooks), and cannot see another partner's transfer.
 * The partner has only a test key: the gateway's simulator plays sFOX.
 */

let gateway: Gateway
let browser: Browser
let receiver: Receiver
let partner: Awaited<ReturnType<typeof createPartner>>

const until = <T>(fn: () => Promise<T> | T, timeout = 15_000) => expect.poll(fn, { timeout, interval: 100 })

beforeAll(async () => {
  ;[gateway, browser, receiver] = await Promise.all([startGateway(), launchBrowser(), startReceiver()])
  partner = await createPartner(gateway, { name: 'Acme Payments' })
  const endpoint = await partner.call('POST', '/v1/webhook-endpoints', { url: receiver.url, description: 'ops' })
  receiver.trust(endpoint.body.secret)
  await partner.call('POST', '/v1/transfers', paymentBody('order-1001'))
  const code = await partner.call('GET', '/v1/test/transfers/order-1001/code')
  await partner.call('POST', '/v1/transfers/order-1001/confirm', { code: code.body.code })
  await partner.call('POST', '/v1/transfers', paymentBody('order-1002'))
  await partner.call('POST', '/v1/transfers', paymentBody('order-1003'))
  await partner.call('POST', '/v1/test/transfers/order-1003/fail')
  const form = new FormData()
  form.append('files', new Blob(['%PDF-1.4 id'], { type: 'application/pdf' }), 'passport.pdf')
  form.append('file_types', JSON.stringify({ 'passport.pdf': 'ID' }))
  await fetch(`${gateway.url}/v1/users/user-1/documents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${partner.key}`, 'idempotency-key': 'docs-1' },
    body: form,
  })
  // Every callback has reached the receiver before the pages are read (expect.poll is for tests only).
  for (const deadline = Date.now() + 15_000; receiver.verified().length < 5; ) {
    if (Date.now() > deadline) throw new Error(`callbacks: ${receiver.verified().length} of 5 arrived`)
    await new Promise((r) => setTimeout(r, 100))
  }
})

afterAll(async () => {
  await browser?.close()
  await receiver?.close()
  await gateway?.close()
})

/** A fresh login link from the partner's own backend, opened as a user would. */
const logIn = async (page: Page) => {
  // Over real HTTP, so the link names the origin the browser reaches.
  const res = await fetch(`${gateway.url}/v1/portal-sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${partner.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ return_url: 'https://acme.example/dashboard' }),
  })
  expect(res.status).toBe(201)
  const link = (await res.json()) as { url: string }
  expect(link.url.startsWith(`${gateway.url}/portal/login?token=`)).toBe(true)
  await visit(page, link.url)
  expect(new URL(page.url()).pathname).toBe('/portal')
}

/** What every page must be: accessible, within the screen, free of errors; saved for a look. */
const checkPage = async (page: Page, name: string, width: number, errors: string[]) => {
  await saveScreenshot(page, `portal-${name}-${width}`)
  await expectAccessible(page)
  await expectNoHorizontalScroll(page)
  expect(errors).toEqual([])
}

describe.each(VIEWPORT_WIDTHS)('at %i px', (width) => {
  it('walks the overview, transfers, a transfer, documents; other partners are 404', async () => {
    await withPage(browser, { width }, async (page) => {
      const errors = collectPageErrors(page)
      await logIn(page)
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Overview')
      await expect(page.getByText('Test data')).toBeTruthy()
      expect(await page.locator('main').textContent()).toContain('100% delivered')
      await checkPage(page, 'overview', width, errors)

      await page.getByRole('link', { name: 'Transfers', exact: true }).click()
      await page.waitForURL(/\/portal\/transfers$/)
      const rows = await page.locator('tbody tr').allTextContents()
      expect(rows.map((r) => r.slice(0, 10))).toEqual(['order-1003', 'order-1002', 'order-1001'])
      await checkPage(page, 'transfers', width, errors)

      await page.getByLabel('Status').selectOption('canceled')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.waitForURL(/status=canceled/)
      expect(await page.locator('tbody tr').allTextContents()).toHaveLength(1)

      await page.getByRole('link', { name: 'order-1003' }).click()
      await page.waitForURL(/\/portal\/transfers\/order-1003$/)
      const timeline = await page.locator('.timeline > li h3').allTextContents()
      expect(timeline.map((t) => t.split(' at ')[0])).toEqual(['1. transfer.created', '2. transfer.canceled'])
      expect(await page.locator('main').textContent()).toContain('delivered')
      await checkPage(page, 'transfer', width, errors)

      await page.getByRole('link', { name: 'Documents' }).click()
      await page.waitForURL(/\/portal\/documents$/)
      expect(await page.locator('main').textContent()).toContain('passport.pdf')
      await checkPage(page, 'documents', width, errors)

      const other = await createPartner(gateway, { name: 'Someone else' })
      await other.call('POST', '/v1/transfers', paymentBody('theirs-1'))
      await visit(page, `${gateway.url}/portal/transfers/theirs-1`, { status: 404 })
      expect(await page.locator('main').textContent()).toContain('transfer_not_found')
    })
  })
})

it('redelivers a callback from the transfer page, and the receiver verifies it', async () => {
  await withPage(browser, { width: 1440 }, async (page) => {
    await logIn(page)
    await visit(page, `${gateway.url}/portal/transfers/order-1001`)
    const before = receiver.verified().length
    const completedId = receiver.verified().find((r) => r.body.type === 'transfer.completed')!.body.id
    await page.getByRole('button', { name: 'Redeliver to this endpoint' }).last().click()
    await page.waitForURL(/redelivered=1/)
    expect(await page.getByRole('status').textContent()).toContain('new delivery was queued')
    await until(() => receiver.verified().length).toBe(before + 1)
    expect(receiver.verified().at(-1)!.body.id).toBe(completedId)
  })
})

it('adds an endpoint, sends it a test event, rotates its secret: a real receiver verifies each one', async () => {
  const ops = await startReceiver()
  try {
    // The flow at desktop width; then the same pages on a phone.
    const seen: { endpoint?: string; event?: string } = {}
    for (const width of [...VIEWPORT_WIDTHS].reverse()) {
      await withPage(browser, { width }, async (page) => {
        const errors = collectPageErrors(page)
        await logIn(page)
        await page.getByRole('link', { name: 'Webhook endpoints' }).click()
        await page.waitForURL(/\/portal\/endpoints$/)
        await checkPage(page, 'endpoints', width, errors)
        if (seen.endpoint && seen.event) {
          await visit(page, seen.endpoint)
          await checkPage(page, 'endpoint', width, errors)
          await visit(page, seen.event)
          await checkPage(page, 'event', width, errors)
          return
        }

        await page.getByLabel(/^URL/).fill(ops.url)
        await page.getByLabel(/^Description/).fill('operations receiver')
        await page.getByRole('button', { name: 'Add endpoint' }).click()
        await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Endpoint added')
        const first = (await page.locator('.secret code').textContent())!
        expect(first).toMatch(/^whsec_/)
        ops.trust(first)
        await checkPage(page, 'endpoint-added', width, errors)

        await page.getByRole('link', { name: 'Continue to the endpoint' }).click()
        await page.getByRole('button', { name: 'Send test event' }).click()
        await expect(page.getByRole('heading', { name: 'Test event sent' }).isVisible()).resolves.toBe(true)
        await until(() => ops.verified().map((r) => [r.body.type, r.verifiedWith])).toEqual([
          ['transfer.test', [first]],
        ])
        await checkPage(page, 'endpoint', width, errors)
        seen.endpoint = page.url().split('?')[0]

        await page.getByLabel(/keeps signing alongside/).selectOption({ index: 1 })
        await page.getByRole('button', { name: 'Rotate secret' }).click()
        await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Secret rotated')
        const second = (await page.locator('.secret code').textContent())!
        expect(second).not.toBe(first)
        expect(await page.locator('main').textContent()).toContain('The old secret keeps signing')
        ops.trust(second)
        await page.getByRole('link', { name: 'Continue to the endpoint' }).click()
        await page.getByRole('button', { name: 'Send test event' }).click()
        // During the grace both secrets sign the same message: the receiver verifies it with each.
        await until(() => ops.verified().at(-1)?.verifiedWith.sort()).toEqual([first, second].sort())

        await page.locator('[role=status] a').first().click()
        await page.waitForURL(/\/portal\/events\/evt_/)
        expect(await page.locator('main pre').first().textContent()).toContain('tgw_test_transfer')
        await checkPage(page, 'event', width, errors)
        seen.event = page.url()
      })
    }
  } finally {
    await ops.close()
  }
})

it('creates a key, rolls it, revokes the new one: each key works exactly as the page says', async () => {
  const works = async (key: string) =>
    (await fetch(`${gateway.url}/v1/transfers`, { headers: { authorization: `Bearer ${key}` } })).status
  for (const width of VIEWPORT_WIDTHS) {
    await withPage(browser, { width }, async (page) => {
      const errors = collectPageErrors(page)
      await logIn(page)
      await page.getByRole('link', { name: 'API keys' }).click()
      await page.waitForURL(/\/portal\/keys$/)
      await checkPage(page, 'keys', width, errors)
      if (width !== 1440) return

      await page.getByRole('button', { name: 'Create key' }).click()
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('New API key')
      const first = (await page.locator('.secret code').textContent())!.trim()
      expect(first).toMatch(/^tgw_test_[A-Za-z0-9]{32}$/)
      await checkPage(page, 'key-created', width, errors)

      // Rolled with no grace before it was ever used (an isolate caches a used key for API_KEY_CACHE_SECONDS).
      await visit(page, `${gateway.url}/portal/keys`)
      await page.getByRole('link', { name: `${first.slice(0, 13)}…` }).click()
      await page.getByLabel('Keep this key working for').selectOption({ label: 'Stop it now' })
      await page.getByRole('button', { name: 'Roll key' }).click()
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('New API key')
      const second = (await page.locator('.secret code').first().textContent())!.trim()
      expect(second).not.toBe(first)
      expect(await works(first)).toBe(401)
      expect(await works(second)).toBe(200)

      await visit(page, `${gateway.url}/portal/keys`)
      await page.getByRole('link', { name: `${second.slice(0, 13)}…` }).click()
      await checkPage(page, 'key', width, errors)
      await page.getByLabel(/^Yes, revoke/).check()
      await page.getByRole('button', { name: 'Revoke key' }).click()
      await page.waitForURL(/\/portal\/keys\?revoked=1$/)
      const row = page.locator('tbody tr', { hasText: `${second.slice(0, 13)}…` })
      expect(await row.locator('.status').textContent()).toBe('revoked')
    })
  }
})

it('signs out for good', async () => {
  await withPage(browser, { width: 1440 }, async (page) => {
    await logIn(page)
    await page.getByRole('button', { name: 'Sign out' }).click()
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Signed out')
    await visit(page, `${gateway.url}/portal`, { status: 401 })
  })
})
