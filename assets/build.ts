import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { STYLESHEET } from '../src/routes/portal/assets'

// Builds the Worker's static assets (wrangler.toml [assets], served by Cloudflare before the Worker
// runs): the API reference at /docs, self-hosted — Swagger UI from node_modules and our own starter —
// and the partner portal's stylesheet, under content-hashed names cached for a year. wrangler runs this ([build]) before every dev
// session, dry run and deploy; the output directory is generated, never committed.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, '.assets')

const SOURCES = [
  { name: 'swagger-ui.js', from: 'node_modules/swagger-ui-dist/swagger-ui-bundle.js' },
  { name: 'swagger-ui.css', from: 'node_modules/swagger-ui-dist/swagger-ui.css' },
  { name: 'docs.js', from: 'assets/docs.js' },
  { name: 'docs.css', from: 'assets/docs.css' },
]

// The bundles point at source maps that are not shipped: a browser's devtools would ask for them.
const withoutSourceMap = (text: string) => text.replace(/\n?\/[/*]# sourceMappingURL=\S+(\s*\*\/)?\s*$/, '\n')

// Written in place, never emptied first: a dev session or test run may be serving this directory while
// another build runs. Hashed files never change; the two fixed names are swapped in whole.
mkdirSync(join(out, 'assets'), { recursive: true })
const writeWhole = (path: string, body: string) => {
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, body)
  renameSync(temporary, path)
}

const path: Record<string, string> = {}
for (const source of SOURCES) {
  const body = withoutSourceMap(readFileSync(join(root, source.from), 'utf8'))
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12)
  const dot = source.name.lastIndexOf('.')
  path[source.name] = `/assets/${source.name.slice(0, dot)}.${hash}${source.name.slice(dot)}`
  if (!existsSync(join(out, path[source.name]!))) writeWhole(join(out, path[source.name]!), body)
}
// The partner portal's stylesheet, named by the hash the Worker's pages compute from the same text.
mkdirSync(join(out, 'portal', 'assets'), { recursive: true })
for (const file of readdirSync(join(out, 'portal', 'assets')))
  if (`/portal/assets/${file}` !== STYLESHEET.path && !file.endsWith('.tmp'))
    rmSync(join(out, 'portal', 'assets', file), { force: true })
if (!existsSync(join(out, STYLESHEET.path))) writeWhole(join(out, STYLESHEET.path), STYLESHEET.body)

// Files of earlier builds (other hashes) go, so a deploy uploads only what the page uses.
const current = new Set(Object.values(path).map((p) => p.slice('/assets/'.length)))
for (const file of readdirSync(join(out, 'assets')))
  if (!current.has(file) && !file.endsWith('.tmp')) rmSync(join(out, 'assets', file), { force: true })

// Served at /docs (html_handling drops the extension). Nothing inline, nothing from elsewhere.
writeWhole(
  join(out, 'docs.html'),
  `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>transfer-gateway API</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="${path['swagger-ui.css']}" />
    <link rel="stylesheet" href="${path['docs.css']}" />
  </head>
  <body>
    <header class="docs-header">transfer-gateway API <a href="/openapi.json">openapi.json</a></header>
    <main id="reference"></main>
    <script src="${path['swagger-ui.js']}"></script>
    <script src="${path['docs.js']}"></script>
  </body>
</html>
`,
)

// Cloudflare's (and Miniflare's) header rules for assets. The reference page may load only what this
// origin serves; hashed files never change, so browsers keep them; the page itself is revalidated.
const security = [
  '  Strict-Transport-Security: max-age=63072000; includeSubDomains',
  '  Referrer-Policy: no-referrer',
  '  X-Content-Type-Options: nosniff',
]
writeWhole(
  join(out, '_headers'),
  [
    '/docs',
    "  Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    '  Cache-Control: no-cache',
    '  X-Frame-Options: DENY',
    ...security,
    '',
    '/assets/*',
    '  Cache-Control: public, max-age=31536000, immutable',
    ...security,
    '',
    '/portal/assets/*',
    '  Cache-Control: public, max-age=31536000, immutable',
    ...security,
    '',
  ].join('\n'),
)

console.log(`assets: ${Object.values(path).join(', ')} and /docs → ${out}`)
