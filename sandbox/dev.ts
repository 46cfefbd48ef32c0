import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { migrateDatabase } from '../db/migrate'
import { startLibsqlServer } from './libsql-server/server'
import { generateP521KeyPair } from './qi/keys'
import { startQiSandbox } from './qi/server'
import { startSfoxSandbox } from './sfox/server'

// `npm run dev`: everything a newcomer needs, in one process tree. The local libSQL server and the
// provider sandboxes run in this process; `wrangler dev` runs the Worker. Ctrl-C stops all of it.

const port = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value <= 0 || value > 65_535) throw new Error(`${name} must be a port number`)
  return value
}
const ports = {
  gateway: port('GATEWAY_PORT', 8787),
  sfox: port('SFOX_SANDBOX_PORT', 8788),
  qi: port('QI_SANDBOX_PORT', 8789),
  libsql: port('LIBSQL_PORT', 8790),
}
const SFOX_DEV_KEY = process.env.SFOX_SANDBOX_API_KEY || 'sfox_sandbox_dev_key'
const DEMO_PARTNER = 'Demo partner'
const SIMULATOR_PARTNER = 'Demo partner (simulator only)'
const DEMO_USER = 'demo-user'
const root = resolve(import.meta.dirname, '..')

/** Reads .dev.vars, creating it with fresh secrets the first time; keeps secrets across runs. */
const ensureDevVars = (libsqlUrl: string): Record<string, string> => {
  const file = resolve(root, '.dev.vars')
  const vars: Record<string, string> = {}
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*)$/.exec(line)
      if (match) vars[match[1]!] = match[2]!.trim()
    }
  }
  const secret = () => randomBytes(24).toString('base64url')
  vars.ENVIRONMENT = 'development'
  vars.LIBSQL_URL = libsqlUrl
  vars.ADMIN_TOKEN ||= `dev_admin_${secret()}`
  vars.ENCRYPTION_KEY ||= randomBytes(32).toString('base64')
  vars.API_KEY_SECRET ||= secret()
  // Local dev: admin changes show up at once rather than after the key cache's 30 s.
  vars.API_KEY_CACHE_SECONDS ||= '0'
  // Receivers on this machine (http://127.0.0.1:…) are fine locally; never in production.
  vars.WEBHOOK_ALLOW_HTTP ||= 'true'
  vars.WEBHOOK_ALLOW_PRIVATE_HOSTS ||= 'true'
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')
  writeFileSync(file, `# Written by npm run dev; local only, never commit.\n${text}\n`, { mode: 0o600 })
  // The simulator Worker reads its own .dev.vars, beside its wrangler.toml: the same database.
  writeFileSync(
    resolve(root, 'sandbox/simulator/.dev.vars'),
    `# Written by npm run dev; local only, never commit.\nLIBSQL_URL=${libsqlUrl}\n`,
    { mode: 0o600 },
  )
  return vars
}

/**
 * wrangler dev's inspector proxy (a Worker in a second workerd) enables the Runtime and Network
 * domains of the gateway's isolate and, until a DevTools window connects, keeps every event in an
 * array it never trims, and sends each one to wrangler's node process as a debug log, which
 * formats it and appends it to ~/.config/.wrangler/logs: four events per subrequest (the database,
 * providers, callbacks) and one per log line. Under load all three processes grow without bound
 * and throughput falls (bench/README.md, "Memory under sustained load"). Wrangler leaves the proxy
 * out in VS Code's JavaScript debug terminal, which it knows by VSCODE_INSPECTOR_OPTIONS; so say
 * that, unless TGW_DEV_INSPECTOR=1 asks for DevTools (or the terminal really is VS Code's, or
 * NODE_OPTIONS preloads a script, which Miniflare would then take for VS Code's bootloader).
 * The Worker's log lines still reach this terminal: wrangler reads them from workerd's output.
 */
const withoutInspectorProxy = (): Record<string, string> =>
  process.env.TGW_DEV_INSPECTOR === '1' ||
  process.env.VSCODE_INSPECTOR_OPTIONS ||
  /--require/.test(process.env.NODE_OPTIONS ?? '')
    ? {}
    : { VSCODE_INSPECTOR_OPTIONS: '{}' }

const waitForHealth = async (url: string, child: ChildProcess, timeoutMs = 90_000) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`)
    try {
      const res = await fetch(`${url}/health`)
      if (res.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new Error(`the gateway did not become healthy at ${url} within ${timeoutMs / 1000} s`)
}

/**
 * The demo partner's QI integration: a fresh P-521 key pair (QI never sees the private half), the
 * sandbox registers its public key and gives back the API client key, an account and QI's key.
 * The sandbox keeps integrations in memory, so this runs on every start.
 */
const registerQiIntegration = async (qiUrl: string, gatewayUrl: string) => {
  const keys = generateP521KeyPair()
  const res = await fetch(`${qiUrl}/_sandbox/integrations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      public_key_pem: keys.publicKeyPem,
      account_count: 1,
      webhook_url: `${gatewayUrl}/providers/qi/webhooks`,
    }),
  })
  const { data } = (await res.json()) as {
    data: { api_client_key: string; account_keys: string[]; qi_public_key_pem: string }
  }
  return { ...data, privateKeyPem: keys.privateKeyPem }
}

/** Seeds through the admin API, as an operator would: the demo partner, a fresh key, its connections. */
const seed = async (gateway: string, adminToken: string, sfoxUrl: string, qiUrl: string) => {
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gateway}/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    const json = (await res.json()) as any
    if (!res.ok) throw new Error(`seeding ${method} ${path}: ${res.status} ${JSON.stringify(json)}`)
    return json
  }
  const partners = await admin('GET', '/partners?limit=100')
  const partner =
    partners.data.find((p: { name: string }) => p.name === DEMO_PARTNER) ??
    (await admin('POST', '/partners', { name: DEMO_PARTNER }))
  // A key is shown only once, so each run issues a new one (earlier ones keep working).
  const key = await admin('POST', `/partners/${partner.id}/api-keys`, { mode: 'test' })
  const sfoxConnection = await admin('PUT', `/partners/${partner.id}/connections/sfox?mode=test`, {
    api_key: SFOX_DEV_KEY,
    base_url: sfoxUrl,
  })
  // The walkthrough's end user, known to sFOX (documents for an unknown user are 404 user_not_found).
  const user = await fetch(`${sfoxUrl}/_sandbox/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user_id: DEMO_USER, api_key: SFOX_DEV_KEY }),
  })
  if (!user.ok) throw new Error(`seeding the sFOX user: ${user.status} ${await user.text()}`)
  const qi = await registerQiIntegration(qiUrl, gateway)
  const qiConnection = await admin('PUT', `/partners/${partner.id}/connections/qi?mode=test`, {
    api_client_key: qi.api_client_key,
    private_key_pem: qi.privateKeyPem,
    qi_public_key_pem: qi.qi_public_key_pem,
    base_url: qiUrl,
    account_keys: qi.account_keys,
  })
  // What an operator sees after entering credentials: every PUT checks its connection (last_check).
  const checks = [sfoxConnection, qiConnection].map(({ provider, last_check: result }) => {
    if (!result) return `${provider} not checked`
    const failed = (result.checks as { name: string; ok: boolean }[]).filter((c) => !c.ok).map((c) => c.name)
    return `${provider} ${result.ok ? 'ok' : `FAILED (${failed.join(', ')})`}`
  })
  // A second partner with a test key and no connection at all: the gateway's simulator serves it.
  const simulated =
    partners.data.find((p: { name: string }) => p.name === SIMULATOR_PARTNER) ??
    (await admin('POST', '/partners', { name: SIMULATOR_PARTNER }))
  const simulatedKey = await admin('POST', `/partners/${simulated.id}/api-keys`, { mode: 'test' })
  // The demo partner's portal: a login link, single-use, valid for an hour.
  const portal = await admin('POST', `/partners/${partner.id}/portal-sessions?mode=test`, { ttl_seconds: 3600 })
  return {
    partnerId: partner.id as string,
    apiKey: key.key as string,
    simulatorApiKey: simulatedKey.key as string,
    portalUrl: portal.url as string,
    qiAccountKey: qi.account_keys[0]!,
    checks: checks.join(', '),
  }
}

const walkthrough = (
  gateway: string,
  sfoxUrl: string,
  qiUrl: string,
  seeded: { apiKey: string; simulatorApiKey: string; portalUrl: string; qiAccountKey: string; checks: string },
) => {
  const { apiKey, qiAccountKey, simulatorApiKey, portalUrl } = seeded
  const id = `demo-${Date.now().toString(36)}`
  const ted = `ted-${Date.now().toString(36)}`
  return `
transfer-gateway is running.

  gateway         ${gateway}
  sFOX sandbox    ${sfoxUrl}
  QI sandbox      ${qiUrl}
  libSQL server   http://127.0.0.1:${ports.libsql}
  demo API key    ${apiKey}
  partner portal  ${portalUrl}   (single-use, 1 hour; POST /admin/partners/{id}/portal-sessions?mode=test for another)
  simulator key   ${simulatorApiKey}   (a test key with no connection: the built-in simulator serves it)
  QI account_key  ${qiAccountKey}   (the demo partner may move money from this account)
  connections     ${seeded.checks}   (POST /admin/partners/{id}/connections/{provider}/check?mode=test)

Walkthrough (copy and paste):

  export TGW=${gateway} KEY=${apiKey}

  # 1. create an sFOX PAYMENT; it waits for the end user's emailed code
  curl -s $TGW/v1/transfers -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{
    "transfer_id": "${id}", "provider": "sfox",
    "sfox": {"user_id": "${DEMO_USER}", "type": "PAYMENT", "purpose": "GOOD", "currency": "eth",
             "quantity": "0.1", "rate": "2000", "description": "Gift card"}}'

  # 2. read the code the sandbox "emailed" (provider_reference is sFOX's transfer_id)
  REF=$(curl -s $TGW/v1/transfers/${id} -H "authorization: Bearer $KEY" | node -pe 'JSON.parse(require("fs").readFileSync(0)).provider_reference')
  CODE=$(curl -s "${sfoxUrl}/_sandbox/outbox?transfer_id=$REF" | node -pe 'JSON.parse(require("fs").readFileSync(0)).data[0].code')

  # 3. confirm it
  curl -s $TGW/v1/transfers/${id}/confirm -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d "{\\"code\\": \\"$CODE\\"}"

  # 4. read it back, and list
  curl -s $TGW/v1/transfers/${id} -H "authorization: Bearer $KEY"
  curl -s "$TGW/v1/transfers?limit=5" -H "authorization: Bearer $KEY"

  # 5. a QI TED: QI sends the approver a 6-digit token by SMS
  curl -s $TGW/v1/transfers -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d '{
    "transfer_id": "${ted}", "provider": "qi",
    "qi": {"account_key": "${qiAccountKey}", "amount": "150.25", "approver_document_number": "98765432100",
           "contact_type": "sms", "target_account": {"account_branch": "0001", "account_digit": "6",
           "account_number": "78340", "owner_document_number": "32402502000135", "owner_name": "QI Tech",
           "account_type": "checking_account", "ispb": "12345678"}}}'
  TED=$(curl -s $TGW/v1/transfers/${ted} -H "authorization: Bearer $KEY" | node -pe 'JSON.parse(require("fs").readFileSync(0)).provider_reference')
  TOKEN=$(curl -s "${qiUrl}/_sandbox/tokens?ted_key=$TED" | node -pe 'JSON.parse(require("fs").readFileSync(0)).data[0].token')
  curl -s $TGW/v1/transfers/${ted}/confirm -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d "{\\"code\\": \\"$TOKEN\\"}"

  # 6. KYC documents for the end user, forwarded to sFOX (two tiny sample files)
  printf '%%PDF-1.4 demo' > passport.pdf; printf '\\x89PNG\\r\\n\\x1a\\n demo' > bill.png
  curl -s $TGW/v1/users/${DEMO_USER}/documents -H "authorization: Bearer $KEY" -H 'idempotency-key: docs-${id}' \\
    -F 'files=@passport.pdf;type=application/pdf' -F 'files=@bill.png;type=image/png' \\
    -F 'file_types={"passport.pdf": "ID", "bill.png": "PoR"}'

  # 7. test mode with no provider account: the gateway's simulator plays sFOX and QI
  export SIM=${simulatorApiKey}
  curl -s $TGW/v1/transfers -H "authorization: Bearer $SIM" -H 'content-type: application/json' -d '{
    "transfer_id": "sim-${id}", "provider": "sfox",
    "sfox": {"user_id": "${DEMO_USER}", "type": "PAYMENT", "purpose": "GOOD", "currency": "eth",
             "quantity": "0.1", "rate": "2000", "description": "Gift card"}}'
  SIMCODE=$(curl -s $TGW/v1/test/transfers/sim-${id}/code -H "authorization: Bearer $SIM" | node -pe 'JSON.parse(require("fs").readFileSync(0)).code')
  curl -s $TGW/v1/transfers/sim-${id}/confirm -H "authorization: Bearer $SIM" -H 'content-type: application/json' -d "{\\"code\\": \\"$SIMCODE\\"}"
  # …or drive the outcome yourself: POST $TGW/v1/test/transfers/{id}/complete | fail | return

Ctrl-C stops everything.
`
}

const main = async () => {
  const libsql = await startLibsqlServer({ port: ports.libsql, dataDir: resolve(root, '.data/libsql') })
  const sfox = await startSfoxSandbox({ port: ports.sfox, api_keys: [SFOX_DEV_KEY] })
  const qi = await startQiSandbox({ port: ports.qi })
  const libsqlUrl = `${libsql.url}/`
  await migrateDatabase(libsqlUrl)
  const vars = ensureDevVars(libsqlUrl)

  const gatewayUrl = `http://127.0.0.1:${ports.gateway}`
  const wrangler = spawn(
    resolve(root, 'node_modules/.bin/wrangler'),
    // Both Workers in one session: the gateway (first, serving the port) and the simulator behind SIMULATOR.
    [
      'dev',
      '-c',
      'wrangler.toml',
      '-c',
      'sandbox/simulator/wrangler.toml',
      '--port',
      String(ports.gateway),
      '--ip',
      '127.0.0.1',
      '--show-interactive-dev-session=false',
      // GET /__scheduled runs the cron handler: the usual /cdn-cgi/handler/scheduled reaches the
      // static assets' router instead of the Worker (it answers 500).
      '--test-scheduled',
    ],
    {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', ...withoutInspectorProxy() },
    },
  )

  let stopping = false
  const stop = async (code = 0) => {
    if (stopping) return
    stopping = true
    wrangler.kill('SIGTERM')
    await Promise.allSettled([sfox.close(), qi.close(), libsql.close()])
    process.exit(code)
  }
  process.once('SIGINT', () => void stop())
  process.once('SIGTERM', () => void stop())
  wrangler.once('exit', (code) => {
    if (!stopping) {
      console.error(`wrangler dev exited (${code}); stopping.`)
      void stop(1)
    }
  })

  try {
    await waitForHealth(gatewayUrl, wrangler)
    const seeded = await seed(gatewayUrl, vars.ADMIN_TOKEN!, sfox.url, qi.url)
    console.log(walkthrough(gatewayUrl, sfox.url, qi.url, seeded))
    // Crons never fire by themselves under `wrangler dev`: trigger the minutely one as Cloudflare would.
    setInterval(() => {
      fetch(`${gatewayUrl}/__scheduled?cron=*+*+*+*+*`).then(
        (r) => r.text(),
        () => {},
      )
    }, 60_000).unref()
  } catch (error) {
    console.error(String(error))
    await stop(1)
  }
}

await main()
