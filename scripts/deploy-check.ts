/**
 * `npm run deploy:check -- --env <name>`: what is missing before `wrangler deploy --env <name>`, in plain words; exits
 * 1 when anything is (2 on a usage error). Each check says where its facts came from, and a fact it cannot learn is a
 * failure ("cannot check …"), never a pass.
 *
 * Facts and their sources:
 * - the environment's configuration: wrangler's own reading of wrangler.toml (and sandbox/simulator/wrangler.toml);
 * - which secrets are set: the Cloudflare API when CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID are set (the
 *   endpoint `wrangler secret list` uses; CLOUDFLARE_API_BASE_URL as for wrangler), else `--secrets-file` (and
 *   `--simulator-secrets-file`): a .dev.vars-like file (NAME=value: values are checked too), names one per line,
 *   or the JSON `wrangler secret list --format json` prints;
 * - which queues exist: the same API (as `wrangler queues list`), else `--queues-file` (queue names, one per line);
 * - which migrations the database has applied: the database itself, at LIBSQL_URL with LIBSQL_AUTH_TOKEN from this
 *   shell (what `npm run db:migrate` uses), compared with db/migrations the way drizzle's migrator does;
 *   `--will-migrate` (the deploy workflow, which migrates next) lists pending ones without counting them.
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createClient } from '@libsql/client'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { experimental_readRawConfig, type Unstable_Config, unstable_readConfig } from 'wrangler'
import { migrationsFolder } from '../db/migrate'
import { settingsOf } from '../src/lib/settings'

export const REQUIRED_SECRETS = ['ADMIN_TOKEN', 'ENCRYPTION_KEY', 'API_KEY_SECRET', 'LIBSQL_AUTH_TOKEN'] as const
/** The simulator Worker's own secret: it reads the same database. */
export const SIMULATOR_SECRETS = ['LIBSQL_AUTH_TOKEN'] as const
const EVERY_MINUTE = '* * * * *'

export type Check = { area: string; ok: boolean; message: string }

export type DeployCheckOptions = {
  env: string
  /** The repository root (wrangler.toml, sandbox/simulator/wrangler.toml and db/migrations are read from it). */
  root?: string
  config?: string
  simulatorConfig?: string
  secretsFile?: string
  simulatorSecretsFile?: string
  queuesFile?: string
  /** Where LIBSQL_URL, LIBSQL_AUTH_TOKEN and CLOUDFLARE_* come from (process.env by default). */
  vars?: Record<string, string | undefined>
  migrationsFolder?: string
  /**
   * The deploy workflow migrates right after this check: pending migrations are listed, not counted as missing.
   * The database must still answer, and must not be ahead of this checkout.
   */
  willMigrate?: boolean
  now?: Date
}

/** Known secrets: each name, with its value when the source gives values (a names-only source gives `undefined`). */
type SecretsFact = { source: string; secrets: Map<string, string | undefined> } | { source: string; error: string }
type QueuesFact = { source: string; has: (name: string) => Promise<boolean> } | { source: string; error: string }

const root = fileURLToPath(new URL('..', import.meta.url))

/** wrangler's reading of one environment, with the warnings it would print (bindings it does not inherit…). */
const readEnvironment = async (configPath: string, env: string) => {
  const { rawConfig } = experimental_readRawConfig({ config: configPath })
  if (!rawConfig.env?.[env]) return { missing: true as const, defined: Object.keys(rawConfig.env ?? {}) }
  const warnings: string[] = []
  const original = console.warn
  console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(' '))
  let config: Unstable_Config
  let topLevel: Unstable_Config
  try {
    config = unstable_readConfig({ config: configPath, env })
    topLevel = unstable_readConfig({ config: configPath }, { hideWarnings: true })
  } finally {
    console.warn = original
  }
  return { missing: false as const, config, topLevel, warnings: [...new Set(warnings.flatMap(wranglerWarnings))] }
}

/** wrangler's warning block, as its plain sentences ("vars" exists at the top level, but not on "env.staging"…). */
const wranglerWarnings = (text: string) =>
  // wrangler colours its output
  text
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('- ') && !line.includes('environment configuration'))
    .map((line) => line.slice(2))

const parseSecretsFile = (path: string): Map<string, string | undefined> => {
  const text = readFileSync(path, 'utf8')
  if (text.trimStart().startsWith('[')) {
    // `wrangler secret list --format json`: [{ "name": "ADMIN_TOKEN", "type": "secret_text" }, …]
    return new Map((JSON.parse(text) as { name: string }[]).map((s) => [s.name, undefined]))
  }
  const secrets = new Map<string, string | undefined>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq < 0) {
      secrets.set(line, undefined)
      continue
    }
    const value = line
      .slice(eq + 1)
      .trim()
      .replace(/^(['"])(.*)\1$/, '$2')
    // An empty value is a secret that is not set (.dev.vars.example's LIBSQL_AUTH_TOKEN=).
    if (value) secrets.set(line.slice(0, eq).trim(), value)
  }
  return secrets
}

type Api = { base: string; token: string; account: string }

const apiFrom = (vars: DeployCheckOptions['vars'] & object, config: Unstable_Config): Api | string => {
  const token = vars.CLOUDFLARE_API_TOKEN
  if (!token) return 'CLOUDFLARE_API_TOKEN is not set'
  const account = vars.CLOUDFLARE_ACCOUNT_ID || config.account_id
  if (!account) return 'CLOUDFLARE_ACCOUNT_ID is not set (nor account_id in wrangler.toml)'
  return {
    base: (vars.CLOUDFLARE_API_BASE_URL || 'https://api.cloudflare.com/client/v4').replace(/\/$/, ''),
    token,
    account,
  }
}

const apiGet = async (api: Api, path: string) => {
  const response = await fetch(`${api.base}/accounts/${api.account}${path}`, {
    headers: { authorization: `Bearer ${api.token}` },
  })
  const body = (await response.json().catch(() => ({}))) as {
    success?: boolean
    result?: unknown
    errors?: { code: number; message: string }[]
  }
  return { status: response.status, body }
}

const secretsFromApi = async (api: Api, script: string): Promise<SecretsFact> => {
  const source = `the Cloudflare API (Worker ${script})`
  try {
    const { status, body } = await apiGet(api, `/workers/scripts/${encodeURIComponent(script)}/secrets`)
    // A Worker never deployed and given no secret yet does not exist: none of its secrets are set.
    if (status === 404 || body.errors?.some((e) => e.code === 10007)) return { source, secrets: new Map() }
    if (!body.success || !Array.isArray(body.result))
      return { source, error: `the API answered ${status}: ${body.errors?.map((e) => e.message).join('; ') || '?'}` }
    return { source, secrets: new Map((body.result as { name: string }[]).map((s) => [s.name, undefined])) }
  } catch (error) {
    return { source, error: `the API could not be reached (${(error as Error).message})` }
  }
}

const queuesFromApi = (api: Api): QueuesFact => ({
  source: 'the Cloudflare API',
  has: async (name) => {
    const { status, body } = await apiGet(api, `/queues?name=${encodeURIComponent(name)}`)
    if (!body.success || !Array.isArray(body.result))
      throw new Error(`the API answered ${status}: ${body.errors?.map((e) => e.message).join('; ') || '?'}`)
    return (body.result as { queue_name: string }[]).some((q) => q.queue_name === name)
  },
})

const secretsFact = async (
  file: string | undefined,
  flag: string,
  api: Api | string,
  script: string,
): Promise<SecretsFact> => {
  if (file) {
    try {
      return { source: file, secrets: parseSecretsFile(file) }
    } catch (error) {
      return { source: file, error: `${file} cannot be read (${(error as Error).message})` }
    }
  }
  if (typeof api === 'string')
    return { source: 'nothing', error: `${api} and no ${flag} was given, so nothing says which secrets are set` }
  return secretsFromApi(api, script)
}

/** An error and its cause (undici's "fetch failed" says why only there). */
const describe = (error: unknown): string => {
  const e = error as Error & { cause?: unknown; code?: string }
  const cause = e?.cause ? `: ${describe(e.cause)}` : ''
  return `${e?.message ?? String(error)}${e?.code && !e.message?.includes(e.code) ? ` ${e.code}` : ''}${cause}`
}

const hostOf = (url: string) => {
  try {
    return new URL(url).hostname
  } catch {
    return undefined
  }
}

/** Placeholders shipped in wrangler.toml (…example.turso.io) or any other example host. */
const isPlaceholder = (url: string) => /(^|\.)example(\.|$)/.test(hostOf(url) ?? '')

/** Migrations of db/migrations the database has not applied, decided as drizzle's migrator decides (by timestamp). */
export const pendingMigrations = async (url: string, authToken: string | undefined, folder = migrationsFolder) => {
  const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as {
    entries: { tag: string; when: number }[]
  }
  const hashes = new Map(readMigrationFiles({ migrationsFolder: folder }).map((m) => [m.folderMillis, m.hash]))
  const read = async () => {
    const client = createClient({ url, authToken: authToken || undefined })
    try {
      const table = await client.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'",
      )
      if (!table.rows.length) return []
      return (await client.execute('SELECT hash, created_at FROM __drizzle_migrations')).rows.map((r) => ({
        hash: String(r.hash),
        at: Number(r.created_at),
      }))
    } finally {
      client.close()
    }
  }
  // Once more on a connection reset: a pooled keep-alive connection the server had just closed.
  const applied = await read().catch((error) => {
    if (/ECONNRESET|UND_ERR_SOCKET|other side closed/.test(describe(error))) return read()
    throw error
  })
  const last = Math.max(0, ...applied.map((m) => m.at))
  const known = new Set(hashes.values())
  return {
    pending: journal.entries.filter((e) => e.when > last).map((e) => e.tag),
    /** Applied migrations this checkout does not have (the database is ahead of this code). */
    unknown: applied.filter((m) => !known.has(m.hash)).length,
    applied: applied.length,
  }
}

export const deployCheck = async (options: DeployCheckOptions): Promise<Check[]> => {
  const base = options.root ?? root
  const vars = options.vars ?? process.env
  const configPath = resolve(base, options.config ?? 'wrangler.toml')
  const simulatorPath = resolve(base, options.simulatorConfig ?? 'sandbox/simulator/wrangler.toml')
  const env = options.env
  const checks: Check[] = []
  const pass = (area: string, message: string) => checks.push({ area, ok: true, message })
  const fail = (area: string, message: string) => checks.push({ area, ok: false, message })

  // ── The environment as wrangler reads it ──
  let read: Awaited<ReturnType<typeof readEnvironment>>
  try {
    read = await readEnvironment(configPath, env)
  } catch (error) {
    fail('configuration', `wrangler cannot read ${configPath} for --env ${env}: ${(error as Error).message}`)
    return checks
  }
  if (read.missing) {
    fail(
      'configuration',
      `${configPath} has no [env.${env}] (environments defined: ${read.defined.join(', ') || 'none'})`,
    )
    return checks
  }
  const { config, topLevel } = read
  const script = config.name ?? '?'
  if (read.warnings.length) for (const w of read.warnings) fail('configuration', `wrangler warns: ${w}`)
  else pass('configuration', `[env.${env}] deploys the Worker ${script}; wrangler reads it without warnings`)

  // ── Compatibility: the environment runs the runtime the tests ran (the top level's date and flags) ──
  const compatibility = (area: string, c: Unstable_Config, tested: Unstable_Config) => {
    const date = c.compatibility_date
    const now = options.now ?? new Date()
    if (!date) return fail(area, 'no compatibility_date is set')
    if (date > now.toISOString().slice(0, 10)) return fail(area, `compatibility_date ${date} is in the future`)
    const flags = [...(c.compatibility_flags ?? [])].sort().join(', ') || 'none'
    const testedFlags = [...(tested.compatibility_flags ?? [])].sort().join(', ') || 'none'
    if (date !== tested.compatibility_date || flags !== testedFlags)
      return fail(
        area,
        `compatibility date ${date} and flags ${flags} differ from the ones the tests run (${tested.compatibility_date}, flags ${testedFlags}): set them at the top level, not in [env.${env}]`,
      )
    pass(area, `compatibility date ${date}, flags ${flags} (as tested)`)
  }
  compatibility('compatibility', config, topLevel)

  // ── Vars ──
  const configVars = (config.vars ?? {}) as Record<string, unknown>
  const inVars = REQUIRED_SECRETS.filter((name) => name in configVars)
  if (inVars.length)
    fail(
      'vars',
      `${inVars.join(', ')} ${inVars.length > 1 ? 'are' : 'is'} in [env.${env}.vars]: secrets belong in \`wrangler secret put\`, not in wrangler.toml`,
    )
  // The Worker's own settings parser, with valid stand-ins for the secrets (checked below from their own source).
  try {
    settingsOf({
      ADMIN_TOKEN: 'x'.repeat(16),
      API_KEY_SECRET: 'x'.repeat(16),
      ENCRYPTION_KEY: btoa('x'.repeat(32)),
      ...Object.fromEntries(Object.entries(configVars).map(([k, v]) => [k, String(v)])),
    } as never)
    if (configVars.ENVIRONMENT !== 'production')
      fail(
        'vars',
        `ENVIRONMENT is ${JSON.stringify(configVars.ENVIRONMENT ?? '(unset)')}: a deployed environment runs as "production" (https providers, public receivers)`,
      )
    for (const name of ['WEBHOOK_ALLOW_HTTP', 'WEBHOOK_ALLOW_PRIVATE_HOSTS'])
      if (['true', '1'].includes(String(configVars[name])))
        fail('vars', `${name} is on: never in a deployed environment`)
    if (!checks.some((c) => c.area === 'vars' && !c.ok)) pass('vars', 'the settings in [vars] are valid')
  } catch (error) {
    fail(
      'vars',
      `the Worker would refuse its settings: ${(error as Error).message.replace(/^invalid configuration: /, '')}`,
    )
  }

  // ── LIBSQL_URL ──
  const libsqlUrl = typeof configVars.LIBSQL_URL === 'string' ? configVars.LIBSQL_URL : ''
  const scheme = libsqlUrl.match(/^([a-z][a-z0-9+.-]*):/i)?.[1]?.toLowerCase()
  if (!libsqlUrl) fail('LIBSQL_URL', `LIBSQL_URL is not set in [env.${env}.vars]`)
  else if (scheme !== 'https' && scheme !== 'libsql')
    fail('LIBSQL_URL', `LIBSQL_URL ${libsqlUrl} is not https:// or libsql:// (Turso's libsql://<db>-<org>.turso.io)`)
  else if (/[?&]tls=0/.test(libsqlUrl)) fail('LIBSQL_URL', `LIBSQL_URL ${libsqlUrl} turns TLS off (tls=0)`)
  else if (isPlaceholder(libsqlUrl))
    fail('LIBSQL_URL', `LIBSQL_URL is still the example ${libsqlUrl}: set your database's URL in [env.${env}.vars]`)
  else pass('LIBSQL_URL', `LIBSQL_URL is ${libsqlUrl}`)
  const libsqlUrlOk = checks.at(-1)?.area === 'LIBSQL_URL' && checks.at(-1)?.ok

  // ── Cron ──
  const crons = config.triggers?.crons ?? []
  if (!crons.length)
    fail(
      'cron',
      `no cron trigger in [env.${env}.triggers]: due callbacks would never be retried, nor transfers expired or reconciled`,
    )
  else if (!crons.includes(EVERY_MINUTE))
    fail('cron', `the cron runs ${crons.join(', ')}, not every minute (${EVERY_MINUTE}) as retries and expiry assume`)
  else pass('cron', `cron ${crons.join(', ')}`)

  // ── Durable Object ──
  const limiter = config.durable_objects?.bindings?.find((b) => b.name === 'RATE_LIMITER')
  const migrated = config.migrations?.some((m) =>
    [...(m.new_sqlite_classes ?? []), ...(m.new_classes ?? [])].includes('PartnerRateLimiter'),
  )
  if (limiter?.class_name !== 'PartnerRateLimiter')
    fail(
      'Durable Object',
      `no RATE_LIMITER binding to PartnerRateLimiter in [env.${env}]: every request would fail its rate limit`,
    )
  else if (!migrated) fail('Durable Object', 'no [[migrations]] entry creates the PartnerRateLimiter class')
  else pass('Durable Object', 'RATE_LIMITER → PartnerRateLimiter, with its class migration')

  const api = apiFrom(vars, config)

  // ── Secrets ──
  const checkSecrets = (
    area: string,
    fact: SecretsFact,
    worker: string,
    names: readonly string[],
    flagHint: string,
  ) => {
    if ('error' in fact) return fail(area, `cannot check the secrets of ${worker}: ${fact.error}`)
    const missing = names.filter((n) => !fact.secrets.has(n))
    for (const name of missing)
      fail(area, `${name} is not set on ${worker} (from ${fact.source}): npx wrangler secret put ${name}${flagHint}`)
    const bad: string[] = []
    const value = (n: string) => fact.secrets.get(n)
    const encryptionKey = value('ENCRYPTION_KEY')
    if (names.includes('ENCRYPTION_KEY') && encryptionKey !== undefined) {
      const ok = /^[A-Za-z0-9+/]+={0,2}$/.test(encryptionKey) && Buffer.from(encryptionKey, 'base64').length === 32
      if (!ok) bad.push('ENCRYPTION_KEY is not 32 bytes in base64 (openssl rand -base64 32)')
    }
    for (const n of ['ADMIN_TOKEN', 'API_KEY_SECRET'])
      if (names.includes(n) && (value(n)?.length ?? 16) < 16) bad.push(`${n} is shorter than 16 characters`)
    for (const b of bad) fail(area, `${b} (from ${fact.source})`)
    if (!missing.length && !bad.length) {
      const unchecked = names.filter((n) => fact.secrets.get(n) === undefined)
      pass(
        area,
        `${names.join(', ')} set on ${worker} (from ${fact.source})${unchecked.length ? `; ${fact.source} gives no values, so ${unchecked.join(', ')} ${unchecked.length > 1 ? 'are' : 'is'} checked for presence only` : ''}`,
      )
    }
  }
  checkSecrets(
    'secrets',
    await secretsFact(options.secretsFile, '--secrets-file', api, script),
    script,
    REQUIRED_SECRETS,
    ` --env ${env}`,
  )

  // ── Queues ──
  const producer = config.queues?.producers?.find((p) => p.binding === 'DELIVERIES')
  const consumer = config.queues?.consumers?.find((c) => c.queue === producer?.queue)
  const queueNames = [
    ...new Set([producer?.queue, consumer?.queue, consumer?.dead_letter_queue].filter((q): q is string => !!q)),
  ]
  if (!producer) fail('queues', `no DELIVERIES queue producer in [env.${env}]: callbacks would wait for the cron`)
  else if (!consumer)
    fail('queues', `no consumer of ${producer.queue} in [env.${env}]: nothing would send the callbacks queued`)
  else if (!consumer.dead_letter_queue) fail('queues', `the consumer of ${producer.queue} has no dead_letter_queue`)
  let queues: QueuesFact
  if (options.queuesFile) {
    try {
      const names = new Set(
        readFileSync(options.queuesFile, 'utf8')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('#')),
      )
      queues = { source: options.queuesFile, has: async (n) => names.has(n) }
    } catch (error) {
      queues = {
        source: options.queuesFile,
        error: `${options.queuesFile} cannot be read (${(error as Error).message})`,
      }
    }
  } else if (typeof api === 'string')
    queues = { source: 'nothing', error: `${api} and no --queues-file was given, so nothing says which queues exist` }
  else queues = queuesFromApi(api)
  if ('error' in queues) fail('queues', `cannot check that the queues ${queueNames.join(', ')} exist: ${queues.error}`)
  else {
    try {
      const absent: string[] = []
      for (const q of queueNames) if (!(await queues.has(q))) absent.push(q)
      for (const q of absent)
        fail('queues', `the queue ${q} does not exist (from ${queues.source}): npx wrangler queues create ${q}`)
      if (!absent.length && queueNames.length) pass('queues', `${queueNames.join(', ')} exist (from ${queues.source})`)
    } catch (error) {
      fail('queues', `cannot check that the queues exist: ${(error as Error).message}`)
    }
  }

  // ── Migrations, against the database db:migrate would migrate ──
  const dbUrl = vars.LIBSQL_URL
  if (!dbUrl)
    fail(
      'migrations',
      'cannot check migrations: LIBSQL_URL is not set in this shell (set it, and LIBSQL_AUTH_TOKEN, to the database of this environment)',
    )
  else {
    const shown = dbUrl.replace(/\/\/[^@/]*@/, '//')
    // Only against a URL that is itself fine (a wrong one is reported above).
    if (libsqlUrlOk && hostOf(dbUrl) !== hostOf(libsqlUrl))
      fail('migrations', `the database checked (${shown}) is not the one [env.${env}.vars] names (${libsqlUrl})`)
    try {
      const { pending, unknown, applied } = await pendingMigrations(
        dbUrl,
        vars.LIBSQL_AUTH_TOKEN,
        options.migrationsFolder,
      )
      if (pending.length && options.willMigrate)
        pass(
          'migrations',
          `${pending.length} migration${pending.length > 1 ? 's' : ''} pending on ${shown}, applied next (--will-migrate): ${pending.join(', ')}`,
        )
      else if (pending.length)
        fail(
          'migrations',
          `${pending.length} migration${pending.length > 1 ? 's' : ''} pending on ${shown}: ${pending.join(', ')} (npm run db:migrate)`,
        )
      else pass('migrations', `${shown} has every migration (${applied} applied)`)
      if (unknown)
        fail(
          'migrations',
          `${shown} has ${unknown} migration${unknown > 1 ? 's' : ''} this checkout does not know: deploying older code over a newer schema`,
        )
    } catch (error) {
      fail('migrations', `cannot check migrations: ${shown} did not answer (${describe(error)})`)
    }
  }

  // ── The test-mode simulator ──
  const service = config.services?.find((s) => s.binding === 'SIMULATOR')
  if (!service) pass('simulator', `no SIMULATOR binding: test keys need a test connection for each provider`)
  else {
    let sim: Awaited<ReturnType<typeof readEnvironment>> | undefined
    try {
      sim = await readEnvironment(simulatorPath, env)
    } catch (error) {
      fail('simulator', `wrangler cannot read ${simulatorPath} for --env ${env}: ${(error as Error).message}`)
    }
    if (sim?.missing) fail('simulator', `${simulatorPath} has no [env.${env}], but SIMULATOR names ${service.service}`)
    else if (sim) {
      const simName = sim.config.name ?? '?'
      for (const w of sim.warnings) fail('simulator', `wrangler warns about the simulator: ${w}`)
      if (simName !== service.service)
        fail('simulator', `SIMULATOR names ${service.service}, but the simulator's [env.${env}] deploys ${simName}`)
      const simUrl = String((sim.config.vars as Record<string, unknown>)?.LIBSQL_URL ?? '')
      if (simUrl !== libsqlUrl)
        fail(
          'simulator',
          `the simulator's LIBSQL_URL (${simUrl || 'unset'}) is not the gateway's (${libsqlUrl || 'unset'}): its state lives in the same database`,
        )
      compatibility('simulator compatibility', sim.config, sim.topLevel)
      const simApi = apiFrom(vars, sim.config)
      checkSecrets(
        'simulator',
        await secretsFact(options.simulatorSecretsFile, '--simulator-secrets-file', simApi, simName),
        simName,
        SIMULATOR_SECRETS,
        ` -c sandbox/simulator/wrangler.toml --env ${env}`,
      )
      if (!checks.some((c) => c.area === 'simulator' && !c.ok))
        pass('simulator', `SIMULATOR → ${simName}, on the same database`)
    }
  }
  return checks
}

export const report = (env: string, checks: Check[]) => {
  const failed = checks.filter((c) => !c.ok)
  const lines = [`deploy:check --env ${env}`, '']
  for (const c of checks) lines.push(`${c.ok ? '  ok      ' : '  MISSING '} ${c.area}: ${c.message}`)
  lines.push(
    '',
    failed.length
      ? `${failed.length} thing${failed.length > 1 ? 's' : ''} to fix before deploying ${env}.`
      : `Nothing missing: ready to deploy ${env}.`,
  )
  return lines.join('\n')
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let args: ReturnType<typeof parse>
  const parse = () =>
    parseArgs({
      options: {
        env: { type: 'string' },
        config: { type: 'string' },
        'simulator-config': { type: 'string' },
        'secrets-file': { type: 'string' },
        'simulator-secrets-file': { type: 'string' },
        'queues-file': { type: 'string' },
        'will-migrate': { type: 'boolean' },
      },
    }).values
  try {
    args = parse()
    if (!args.env) throw new Error('--env <name> is required (staging or production)')
  } catch (error) {
    console.error(`deploy:check: ${(error as Error).message}`)
    console.error(
      'usage: npm run deploy:check -- --env <name> [--secrets-file <path>] [--simulator-secrets-file <path>] [--queues-file <path>] [--will-migrate] [--config <wrangler.toml>] [--simulator-config <path>]',
    )
    process.exit(2)
  }
  const env = args.env!
  const checks = await deployCheck({
    env,
    root: process.cwd(),
    config: args.config,
    simulatorConfig: args['simulator-config'],
    secretsFile: args['secrets-file'],
    simulatorSecretsFile: args['simulator-secrets-file'],
    queuesFile: args['queues-file'],
    willMigrate: args['will-migrate'],
  })
  console.log(report(env, checks))
  process.exit(checks.every((c) => c.ok) ? 0 : 1)
}
