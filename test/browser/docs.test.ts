import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collectPageErrors, launchBrowser, saveScreenshot, visit, withPage } from '../helpers/browser'
import { type Gateway, startGateway } from '../helpers/gateway'

// The API reference at /docs, self-hosted as static assets: it renders with nothing but this origin
// (the machine has no internet, so a third-party script would leave it blank) under a CSP that names no
// other origin and allows no inline script.
describe('the API reference at /docs', () => {
  let gateway: Gateway
  let browser: Browser

  beforeAll(async () => {
    ;[gateway, browser] = await Promise.all([startGateway(), launchBrowser()])
  })

  afterAll(async () => {
    await browser?.close()
    await gateway?.close()
  })

  it('renders every operation of /openapi.json from this origin alone, with no CSP or console error', async () => {
    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as { paths: Record<string, object> }
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    )
    await withPage(browser, { width: 1440 }, async (page) => {
      const errors = collectPageErrors(page)
      const elsewhere: string[] = []
      page.on('request', (r) => {
        if (!r.url().startsWith(gateway.url) && !r.url().startsWith('data:')) elsewhere.push(r.url())
      })
      const response = await visit(page, `${gateway.url}/docs`)
      const csp = response.headers()['content-security-policy'] ?? ''
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toMatch(/https?:|'unsafe-inline'[^;]*;?\s*$|script-src[^;]*unsafe/)
      await page.locator('.opblock').first().waitFor({ timeout: 20_000 })
      // Every operation of the document is on the page (callbacks add blocks of their own).
      const shown = () =>
        page
          .locator('.opblock-summary')
          .evaluateAll((blocks) =>
            blocks.map(
              (b) =>
                `${b.querySelector('.opblock-summary-method')?.textContent} ${b.querySelector('.opblock-summary-path')?.getAttribute('data-path')}`,
            ),
          )
      await expect
        .poll(
          async () => {
            const onPage = await shown()
            return operations.filter((op) => !onPage.includes(op))
          },
          { timeout: 10_000 },
        )
        .toEqual([])
      await saveScreenshot(page, 'docs-1440')
      expect(errors).toEqual([])
      expect(elsewhere).toEqual([])
    })
  })
})
