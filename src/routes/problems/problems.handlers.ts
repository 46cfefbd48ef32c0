import type { Context, Handler } from 'hono'
import { html, raw } from 'hono/html'
import { PROBLEMS, Problem, type ProblemCode, problemType, typeBaseOf } from '../../lib/problem'
import { PROBLEM_GUIDE } from '../../lib/problem-guide'
import type { AppEnv } from '../../middleware/app-env'

const isCode = (code: string): code is ProblemCode => Object.hasOwn(PROBLEMS, code)

const resourceOf = (code: ProblemCode, base: string) => ({
  object: 'problem_type' as const,
  type: problemType(code, base),
  code,
  status: PROBLEMS[code][0],
  title: PROBLEMS[code][1],
  description: PROBLEM_GUIDE[code],
})

const wantsHtml = (c: Context) => (c.req.header('accept') ?? '').includes('text/html')

// Backticks in the guide mark code; the page shows them as <code>, everything else escaped.
const withCode = (text: string) =>
  raw(
    text
      .replaceAll('&', '&amp;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replace(/`([^`]+)`/g, '<code>$1</code>'),
  )

// Codes are [a-z_] only; a break opportunity after each underscore keeps long ones inside a phone's width.
const breakable = (code: ProblemCode) => raw(code.replaceAll('_', '_<wbr>'))

const page = (title: string, body: ReturnType<typeof html>) =>
  html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body><main>${body}</main></body></html>`

export const list: Handler<AppEnv> = async (c) => {
  const data = (Object.keys(PROBLEMS) as ProblemCode[]).map((code) => resourceOf(code, typeBaseOf(c)))
  if (wantsHtml(c)) {
    const rows = data.map(
      (p) =>
        html`<tr><td><a href="${p.type}"><code>${breakable(p.code)}</code></a></td><td>${p.status}</td><td>${p.title}</td></tr>`,
    )
    return c.html(
      page(
        'Problem types — transfer-gateway',
        html`<h1>Problem types</h1><p>Every error is <code>application/problem+json</code> with one of these codes.</p>
<table><thead><tr><th scope="col">code</th><th scope="col">status</th><th scope="col">title</th></tr></thead><tbody>${rows}</tbody></table>`,
      ),
    )
  }
  return c.json({ object: 'list' as const, data, has_more: false }, 200)
}

export const get: Handler<AppEnv, '/problems/:code'> = async (c) => {
  const code = c.req.param('code')
  if (!isCode(code)) throw new Problem('not_found', { detail: `No problem has the code "${code}".` })
  const resource = resourceOf(code, typeBaseOf(c))
  if (wantsHtml(c)) {
    return c.html(
      page(
        `${resource.code} — transfer-gateway`,
        html`<h1><code>${breakable(resource.code)}</code></h1><p>HTTP ${resource.status}: ${resource.title}.</p><p>${withCode(resource.description)}</p><p><a href="${typeBaseOf(c).replace(/\/$/, '')}">All problem types</a></p>`,
      ),
    )
  }
  return c.json(resource, 200)
}
