import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  axeViolations,
  collectPageErrors,
  expectAccessible,
  expectNoHorizontalScroll,
  formatViolation,
  launchBrowser,
  saveScreenshot,
  VIEWPORT_WIDTHS,
  visit,
  withPage,
} from '../helpers/browser'
import { type Gateway, startGateway } from '../helpers/gateway'

// The harness end to end, on HTML the gateway already serves: its problem-type pages in real Chromium.
describe('browser smoke: problem-type pages', () => {
  let gateway: Gateway
  let browser: Browser

  beforeAll(async () => {
    ;[gateway, browser] = await Promise.all([startGateway(), launchBrowser()])
  })

  afterAll(async () => {
    await browser?.close()
    await gateway?.close()
  })

  describe.each(VIEWPORT_WIDTHS)('at %i px', (width) => {
    it('GET /problems: the index, as a browser asks for it', async () => {
      await withPage(browser, { width }, async (page) => {
        const errors = collectPageErrors(page)
        const response = await visit(page, `${gateway.url}/problems`)
        // Chromium's own navigation Accept picks the HTML (no header forced by the test).
        expect(await response.request().headerValue('accept')).toMatch(/text\/html/)
        expect(response.headers()['content-type']).toMatch(/^text\/html/)
        expect(await page.title()).toBe('Problem types — transfer-gateway')
        await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Problem types')
        const link = page.getByRole('link', { name: 'transfer_not_found', exact: true })
        expect(await link.getAttribute('href')).toBe(`${gateway.url}/problems/transfer_not_found`)
        expect(await page.locator('tbody tr').count()).toBeGreaterThan(10)
        await saveScreenshot(page, `problems-index-${width}`)
        expect(errors).toEqual([])
        await expectAccessible(page)
        await expectNoHorizontalScroll(page)
      })
    })

    it('GET /problems/transfer_not_found: one problem type, reached from the index', async () => {
      await withPage(browser, { width }, async (page) => {
        const errors = collectPageErrors(page)
        await visit(page, `${gateway.url}/problems`)
        await page.getByRole('link', { name: 'transfer_not_found', exact: true }).click()
        await page.waitForURL(`${gateway.url}/problems/transfer_not_found`)
        await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('transfer_not_found')
        await expect(page.locator('main').textContent()).resolves.toContain('HTTP 404: Transfer not found.')
        await expect(page.locator('main p code').first().textContent()).resolves.toBe('transfer_id')
        await saveScreenshot(page, `problem-transfer_not_found-${width}`)
        expect(errors).toEqual([])
        await expectAccessible(page)
        await expectNoHorizontalScroll(page)
      })
    })
  })

  // The link was href="./" once, which from /problems/{code} is /problems/ (no such route): a 404.
  it('"All problem types" on a problem page leads back to the index', async () => {
    await withPage(browser, { width: 1440 }, async (page) => {
      await visit(page, `${gateway.url}/problems/transfer_not_found`)
      const [response] = await Promise.all([
        page.waitForEvent('response', (r) => r.request().isNavigationRequest()),
        page.getByRole('link', { name: 'All problem types' }).click(),
      ])
      expect(`${response.status()} ${response.url()}`).toBe(`200 ${response.url()}`)
      await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Problem types')
    })
  })

  // The longest code (transfer_not_pending_verification, monospace) once made the table wider than a phone;
  // the markup now offers a break after each underscore (the CSP blocks inline styles).
  it('the index fits a 360 px screen', async () => {
    await withPage(browser, { width: 360 }, async (page) => {
      await visit(page, `${gateway.url}/problems`)
      await expectNoHorizontalScroll(page)
    })
  })

  it('the accessibility check is not vacuous: it reports what it should, with where', async () => {
    await withPage(browser, { width: 360 }, async (page) => {
      await page.setContent(
        '<!doctype html><html lang="en"><head><title>bad</title></head><body><main><h1>Bad</h1>' +
          '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" width="20" height="20">' +
          '<p style="color:#eee;background:#fff">hard to read</p></main></body></html>',
      )
      const violations = await axeViolations(page)
      expect(violations.map((v) => `${v.rule} ${v.impact} ${v.targets.join(',')}`).sort()).toEqual([
        'color-contrast serious p',
        'image-alt critical img',
      ])
      expect(formatViolation(violations.find((v) => v.rule === 'image-alt')!)).toMatch(
        /^image-alt \(critical\): Images must have alternative text — img — https:\/\/dequeuniversity\.com\//,
      )
    })
  })
})
