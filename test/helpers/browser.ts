import { accessSync, constants, statSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import axe from 'axe-core'
import { type Browser, type BrowserContextOptions, chromium, type Page, type Response } from 'playwright-core'
import { expect } from 'vitest'

/**
 * Browser tests: Debian's Chromium (apt-get install -y chromium; .ci/run installs it) driven by playwright-core
 * against the gateway that startGateway() serves on a real local port (gateway.url). One browser per test file
 * (launchBrowser in beforeAll, close in afterAll); every page in a context of its own, closed after use.
 */

/** The widths (CSS px) the partner portal must work at: a small phone and a desktop. */
export const VIEWPORT_WIDTHS = [360, 1440] as const

/** Where saveScreenshot writes (git-ignored; CI keeps the folder as an artifact). */
export const SCREENSHOT_DIR = fileURLToPath(new URL('../browser/screenshots/', import.meta.url))

const INSTALL_HINT =
  'Install it with `apt-get install -y chromium` (Debian; .ci/run does this on a clean machine), or set CHROMIUM_PATH to a Chromium binary.'

const isExecutableFile = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** CHROMIUM_PATH, else /usr/bin/chromium (Debian), else chromium-browser on PATH; throws naming the fix when none is there. */
export const findChromium = (): string => {
  const configured = process.env.CHROMIUM_PATH
  if (configured) {
    if (isExecutableFile(configured)) return configured
    throw new Error(`CHROMIUM_PATH=${configured} is not an executable file. ${INSTALL_HINT}`)
  }
  if (isExecutableFile('/usr/bin/chromium')) return '/usr/bin/chromium'
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'chromium-browser')
    if (isExecutableFile(candidate)) return candidate
  }
  throw new Error(
    `Chromium not found (CHROMIUM_PATH unset, no /usr/bin/chromium, no chromium-browser on PATH). ${INSTALL_HINT}`,
  )
}

/**
 * Headless Chromium. As root in a container it needs --no-sandbox; --disable-dev-shm-usage because /dev/shm may be
 * small there; no GPU. Browser tests fail (never skip) when Chromium is missing or does not start.
 */
export const launchBrowser = async (): Promise<Browser> => {
  const executablePath = findChromium()
  try {
    return await chromium.launch({
      executablePath,
      headless: true,
      chromiumSandbox: false,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--mute-audio'],
      timeout: 60_000,
    })
  } catch (error) {
    throw new Error(`Chromium at ${executablePath} did not start: ${(error as Error).message}\n${INSTALL_HINT}`, {
      cause: error,
    })
  }
}

export type PageOptions = {
  /** Viewport width in CSS px (see VIEWPORT_WIDTHS). */
  width: number
  /** Viewport height in CSS px (default 800); full-page screenshots cover the whole document anyway. */
  height?: number
  /**
   * Headers added to every request of the page. Chromium keeps its own Accept (text/html,…) on navigations whatever
   * is given here; for another Accept use page.request or page.evaluate(fetch).
   */
  headers?: Record<string, string>
  /** Anything else for the page's own context (e.g. colorScheme, javaScriptEnabled). */
  context?: BrowserContextOptions
}

/**
 * A page in a fresh context (no cookies or storage shared with other pages) at the given width, deterministic for
 * screenshots (1x pixels, en-US, UTC, reduced motion). Closing the page closes its context; prefer withPage.
 */
export const newPage = async (browser: Browser, options: PageOptions): Promise<Page> => {
  const context = await browser.newContext({
    viewport: { width: options.width, height: options.height ?? 800 },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
    reducedMotion: 'reduce',
    ...(options.headers ? { extraHTTPHeaders: options.headers } : {}),
    ...options.context,
  })
  const page = await context.newPage()
  page.on('close', () => void context.close().catch(() => {}))
  return page
}

/** Runs `fn` with a fresh page (see newPage) and closes the page and its context afterwards, pass or fail. */
export const withPage = async <T>(
  browser: Browser,
  options: PageOptions,
  fn: (page: Page) => Promise<T>,
): Promise<T> => {
  const page = await newPage(browser, options)
  try {
    return await fn(page)
  } finally {
    await page.context().close()
  }
}

/**
 * Navigates like a user typing the URL (the browser's own Accept: text/html,…) and waits for the load event. Fails
 * with the response's status and start of body when the status is not `status` (default 200).
 */
export const visit = async (page: Page, url: string, options: { status?: number } = {}): Promise<Response> => {
  const response = await page.goto(url, { waitUntil: 'load' })
  if (!response) throw new Error(`${url}: no response (same-document navigation?)`)
  const expected = options.status ?? 200
  if (response.status() !== expected) {
    const body = (await response.text().catch(() => '')).slice(0, 500)
    throw new Error(`${url}: HTTP ${response.status()} (expected ${expected})\n${body}`)
  }
  return response
}

/**
 * What went wrong in the page while the test ran: console errors (CSP violations included), uncaught exceptions and
 * failed requests. Call before navigating; read the array afterwards.
 */
export const collectPageErrors = (page: Page): string[] => {
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (error) => errors.push(`exception: ${error.message}`))
  page.on('requestfailed', (request) =>
    errors.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText ?? 'unknown'})`),
  )
  return errors
}

/**
 * Null when the page fits its viewport's width; else what sticks out (the innermost elements past the right edge), e.g.
 * `411px wide in a 360px viewport; past the edge: th "title" (right 409px), … and 40 more`. A page that scrolls
 * sideways at 360 px does not "work at 360 px".
 */
export const horizontalOverflow = (page: Page): Promise<string | null> =>
  page.evaluate(() => {
    const viewport = document.documentElement.clientWidth
    const width = document.documentElement.scrollWidth
    if (width <= viewport) return null
    const past = (el: Element) => el.getBoundingClientRect().right > viewport + 0.5
    const innermost = Array.from(document.body.querySelectorAll('*')).filter(
      (el) => past(el) && !Array.from(el.children).some(past),
    )
    const described = innermost.slice(0, 3).map((el) => {
      const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 60)
      return `${el.tagName.toLowerCase()}${text ? ` "${text}"` : ''} (right ${Math.round(el.getBoundingClientRect().right)}px)`
    })
    const more = innermost.length > described.length ? ` and ${innermost.length - described.length} more` : ''
    return `${width}px wide in a ${viewport}px viewport; past the edge: ${described.join(', ') || 'nothing visible'}${more}`
  })

/** Asserts the page does not scroll sideways at its viewport width; a failure names what sticks out. */
export const expectNoHorizontalScroll = async (page: Page): Promise<void> => {
  expect(await horizontalOverflow(page), `horizontal scroll on ${page.url()}`).toBeNull()
}

/** `name` made safe as a file name: lower case, [a-z0-9._-] only, no leading dots, at most 120 characters. */
export const screenshotFileName = (name: string): string => {
  const safe = name
    .toLowerCase()
    .replace(/\.png$/, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 120)
  return `${safe || 'screenshot'}.png`
}

/** A full-page PNG of what the page shows now, in test/browser/screenshots/; returns its path. */
export const saveScreenshot = async (page: Page, name: string): Promise<string> => {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  const path = join(SCREENSHOT_DIR, screenshotFileName(name))
  await page.screenshot({ path, fullPage: true, animations: 'disabled' })
  return path
}

export type A11yViolation = {
  /** axe rule id, e.g. `color-contrast`. */
  rule: string
  impact: 'serious' | 'critical'
  help: string
  helpUrl: string
  /** Selectors of the first few offending elements. */
  targets: string[]
  /** How many elements fail the rule. */
  count: number
}

const SEVERE = new Set(['serious', 'critical'])

/**
 * Runs axe-core in the page and returns its serious and critical violations (minor and moderate ones are left out).
 * axe's source goes in through the DevTools protocol, so the page's own CSP (the gateway's is `default-src 'none'`)
 * neither blocks it nor needs relaxing.
 */
export const axeViolations = async (page: Page, options: axe.RunOptions = {}): Promise<A11yViolation[]> => {
  const injected = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe === 'object')
  if (!injected) await page.evaluate(axe.source)
  const results = await page.evaluate(
    (runOptions) => (window as unknown as { axe: typeof axe }).axe.run(document, runOptions),
    { resultTypes: ['violations'], ...options } satisfies axe.RunOptions,
  )
  return results.violations
    .filter((v) => v.impact && SEVERE.has(v.impact))
    .map((v) => ({
      rule: v.id,
      impact: v.impact as A11yViolation['impact'],
      help: v.help,
      helpUrl: v.helpUrl,
      targets: v.nodes
        .slice(0, 3)
        .map((node) => node.target.map((t) => (typeof t === 'string' ? t : t.join(' >>> '))).join(' | ')),
      count: v.nodes.length,
    }))
}

/** One line per violation: what to fix and where. */
export const formatViolation = (v: A11yViolation): string =>
  `${v.rule} (${v.impact}): ${v.help} — ${v.targets.join(', ')}${v.count > v.targets.length ? ` and ${v.count - v.targets.length} more` : ''} — ${v.helpUrl}`

/** Asserts axe finds no serious or critical violation; a failure lists each rule, what it asks and where. */
export const expectAccessible = async (page: Page, options?: axe.RunOptions): Promise<void> => {
  const violations = await axeViolations(page, options)
  expect(violations.map(formatViolation), `axe: serious/critical violations on ${page.url()}`).toEqual([])
}
