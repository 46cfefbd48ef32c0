import { spawn } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { drizzle } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { migrateDatabase, migrationsFolder } from '../../db/migrate'
import { type Check, type DeployCheckOptions, deployCheck } from '../../scripts/deploy-check'

// `npm run deploy:check`: each missing piece is caught, against the real local libSQL server (a database per test) and
// configurations derived from the repository's own wrangler.toml files. Facts that need Cloudflare's API come from
// files, or from a stand-in of the API's two endpoints (CLOUDFLARE_API_BASE_URL, as wrangler reads it).

const root = fileURLToPath(new URL('../..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'tgw-deploy-check-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const gatewayToml = readFileSync(join(root, 'wrangler.toml'), 'utf8').replace(
  'main = "src/index.ts"',
  `main = ${JSON.stringify(join(root, 'src/index.ts'))}`,
)
const simulatorToml = readFileSync(join(root, 'sandbox/simulator/wrangler.toml'), 'utf8').replace(
  'main = "index.ts"',
  `main = ${JSON.stringify(join(root, 'sandbox/simulator/index.ts'))}`,
)
// The production database of these tests: the local server's host, under a scheme a deployment accepts.
const DATABASE = 'libsql://127.0.0.1/'
/** db/migrations, by tag, as its journal lists them. */
const TAGS = (
  JSON.parse(readFileSync(join(migrationsFolder, 'meta/_journal.json'), 'utf8')) as { entries: { tag: string }[] }
).entries.map((e) => e.tag)
const PRODUCTION_QUEUES = [
  'transfer-gateway-production-deliveries',
  'transfer-gateway-production-deliveries-dlq',
] as const

/** `text` with `edit` applied to its [env.production] part only. */
const inProduction = (text: string, edit: (section: string) => string) => {
  const at = text.indexOf('[env.production]')
  expect(at).toBeGreaterThan(0)
  return text.slice(0, at) + edit(text.slice(at))
}
const productionUrl = (text: string, url: string) =>
  inProduction(text, (s) => s.replace(/^LIBSQL_URL = .*$/m, `LIBSQL_URL = ${JSON.stringify(url)}`))

let files = 0
const file = (text: string, name = 'file') => {
  const path = join(work, `${++files}-${name}`)
  writeFileSync(path, text)
  return path
}

const goodSecrets = () =>
  [
    `ADMIN_TOKEN=${randomBytes(24).toString('hex')}`,
    `ENCRYPTION_KEY=${randomBytes(32).toString('base64')}`,
    `API_KEY_SECRET=${randomBytes(24).toString('hex')}`,
    'LIBSQL_AUTH_TOKEN=token',
  ].join('\n')

const newDatabase = () => `${inject('libsqlUrl')}/dc_${randomUUID().replaceAll('-', '').slice(0, 12)}/`
const migratedDatabase = async () => {
  const url = newDatabase()
  await migrateDatabase(url)
  return url
}

/** Everything a production deploy needs, each piece overridable. */
const ready = async (overrides: Partial<DeployCheckOptions> & { gateway?: string; simulator?: string } = {}) => {
  const { gateway, simulator, ...rest } = overrides
  return {
    env: 'production',
    root,
    config: file(gateway ?? productionUrl(gatewayToml, DATABASE), 'wrangler.toml'),
    simulatorConfig: file(simulator ?? productionUrl(simulatorToml, DATABASE), 'simulator.toml'),
    secretsFile: file(goodSecrets(), 'secrets'),
    simulatorSecretsFile: file('LIBSQL_AUTH_TOKEN=token', 'simulator-secrets'),
    queuesFile: file(PRODUCTION_QUEUES.join('\n'), 'queues'),
    vars: { LIBSQL_URL: rest.vars?.LIBSQL_URL ?? (await migratedDatabase()) },
    now: new Date('2026-12-01T00:00:00Z'),
    ...rest,
  } satisfies DeployCheckOptions
}

const failures = (checks: Check[]) => checks.filter((c) => !c.ok).map((c) => `${c.area}: ${c.message}`)

describe('deploy:check', () => {
  it('passes a production environment that has everything: configuration, secrets, queues, a migrated database', async () => {
    const checks = await deployCheck(await ready())
    expect(failures(checks)).toEqual([])
    expect(checks.map((c) => c.area)).toEqual(
      expect.arrayContaining([
        'configuration',
        'compatibility',
        'vars',
        'LIBSQL_URL',
        'cron',
        'Durable Object',
        'secrets',
        'queues',
        'migrations',
        'simulator',
      ]),
    )
    expect(checks.find((c) => c.area === 'migrations')?.message).toMatch(`has every migration (${TAGS.length} applied)`)
  })

  describe('migrations', () => {
    it('lists every migration as pending on an unmigrated database', async () => {
      const checks = await deployCheck(await ready({ vars: { LIBSQL_URL: newDatabase() } }))
      expect(failures(checks)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^migrations: ${TAGS.length} migrations pending on .*: ${TAGS.join(', ')} \\(npm run db:migrate\\)$`,
          ),
        ),
      ])
    })

    it('lists only the migrations a database lacks, decided as drizzle decides (by the last applied one)', async () => {
      // The migrations folder as it was before 0011: the database is migrated up to 0010_test_events.
      const before = join(work, 'migrations-before-0011')
      cpSync(migrationsFolder, before, { recursive: true })
      const journalPath = join(before, 'meta/_journal.json')
      const journal = JSON.parse(readFileSync(journalPath, 'utf8'))
      journal.entries = journal.entries.filter((e: { tag: string }) => e.tag < '0011')
      writeFileSync(journalPath, JSON.stringify(journal))
      const partial = newDatabase()
      const client = createClient({ url: partial })
      await migrate(drizzle({ client }), { migrationsFolder: before })
      client.close()

      const checks = await deployCheck(await ready({ vars: { LIBSQL_URL: partial } }))
      expect(failures(checks)).toEqual([
        `migrations: ${TAGS.length - 11} migrations pending on ${partial}: ${TAGS.slice(11).join(', ')} (npm run db:migrate)`,
      ])
    })

    it('with --will-migrate (the deploy workflow migrates next) lists pending migrations without failing', async () => {
      const checks = await deployCheck(await ready({ vars: { LIBSQL_URL: newDatabase() }, willMigrate: true }))
      expect(failures(checks)).toEqual([])
      expect(checks.find((c) => c.area === 'migrations')?.message).toMatch(
        new RegExp(`^${TAGS.length} migrations pending on .*, applied next \\(--will-migrate\\): 0000_init, `),
      )
      // It still has to reach the database.
      const down = await deployCheck(await ready({ vars: { LIBSQL_URL: 'http://127.0.0.1:9/' }, willMigrate: true }))
      expect(failures(down)).toEqual([expect.stringMatching(/^migrations: cannot check migrations: /)])
    })

    it('says it cannot check, as a failure, when LIBSQL_URL is not set or the database does not answer', async () => {
      const unset = await deployCheck(await ready({ vars: {} }))
      expect(failures(unset)).toEqual([
        expect.stringMatching(/^migrations: cannot check migrations: LIBSQL_URL is not set/),
      ])
      const down = await deployCheck(await ready({ vars: { LIBSQL_URL: 'http://127.0.0.1:9/' } }))
      expect(failures(down)).toEqual([expect.stringMatching(/^migrations: cannot check migrations: .* did not answer/)])
    })

    it('reports a database ahead of this checkout (a migration it does not know)', async () => {
      const url = await migratedDatabase()
      const client = createClient({ url })
      await client.execute({
        sql: 'INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)',
        args: ['a-newer-branch', Date.now() + 86_400_000],
      })
      client.close()
      const checks = await deployCheck(await ready({ vars: { LIBSQL_URL: url } }))
      expect(failures(checks)).toEqual([
        `migrations: ${url} has 1 migration this checkout does not know: deploying older code over a newer schema`,
      ])
    })

    it('refuses to vouch for a database that is not the one the environment names', async () => {
      const checks = await deployCheck(
        await ready({
          gateway: productionUrl(gatewayToml, 'libsql://prod-db.turso.io'),
          simulator: productionUrl(simulatorToml, 'libsql://prod-db.turso.io'),
        }),
      )
      expect(failures(checks)).toEqual([
        expect.stringMatching(
          /^migrations: the database checked .* is not the one \[env.production.vars\] names \(libsql:\/\/prod-db.turso.io\)$/,
        ),
      ])
    })
  })

  describe('LIBSQL_URL', () => {
    it('refuses a URL that is not https:// or libsql://', async () => {
      for (const url of ['http://127.0.0.1:8790/', 'file:prod.db', 'ws://127.0.0.1/']) {
        const checks = await deployCheck(
          await ready({ gateway: productionUrl(gatewayToml, url), simulator: productionUrl(simulatorToml, url) }),
        )
        expect(failures(checks), url).toEqual([
          `LIBSQL_URL: LIBSQL_URL ${url} is not https:// or libsql:// (Turso's libsql://<db>-<org>.turso.io)`,
        ])
      }
    })

    it('refuses the example placeholder wrangler.toml ships with, and TLS turned off', async () => {
      const placeholder = await deployCheck(await ready({ gateway: gatewayToml, simulator: simulatorToml }))
      expect(failures(placeholder)).toEqual([
        expect.stringMatching(
          /^LIBSQL_URL: LIBSQL_URL is still the example libsql:\/\/transfer-gateway-production\.example\.turso\.io/,
        ),
      ])
      const noTls = 'libsql://127.0.0.1/?tls=0'
      const checks = await deployCheck(
        await ready({ gateway: productionUrl(gatewayToml, noTls), simulator: productionUrl(simulatorToml, noTls) }),
      )
      expect(failures(checks)).toEqual([`LIBSQL_URL: LIBSQL_URL ${noTls} turns TLS off (tls=0)`])
    })
  })

  describe('secrets', () => {
    it('names each secret that is not set, with the command that sets it', async () => {
      const checks = await deployCheck(
        await ready({ secretsFile: file(`ADMIN_TOKEN=${'a'.repeat(20)}\nLIBSQL_AUTH_TOKEN=\n# ENCRYPTION_KEY=x`) }),
      )
      expect(failures(checks)).toEqual(
        ['ENCRYPTION_KEY', 'API_KEY_SECRET', 'LIBSQL_AUTH_TOKEN'].map((name) =>
          expect.stringMatching(
            new RegExp(
              `^secrets: ${name} is not set on transfer-gateway-production \\(from .*\\): npx wrangler secret put ${name} --env production$`,
            ),
          ),
        ),
      )
    })

    it('checks values when the source has them: ENCRYPTION_KEY must be 32 bytes of base64, tokens 16 characters', async () => {
      const secrets = goodSecrets()
        .replace(/^ENCRYPTION_KEY=.*$/m, `ENCRYPTION_KEY=${randomBytes(16).toString('base64')}`)
        .replace(/^ADMIN_TOKEN=.*$/m, 'ADMIN_TOKEN=short')
      const checks = await deployCheck(await ready({ secretsFile: file(secrets) }))
      expect(failures(checks)).toEqual([
        expect.stringMatching(/^secrets: ENCRYPTION_KEY is not 32 bytes in base64/),
        expect.stringMatching(/^secrets: ADMIN_TOKEN is shorter than 16 characters/),
      ])
    })

    it('accepts names only (or `wrangler secret list --format json`) and says the values went unchecked', async () => {
      for (const text of [
        'ADMIN_TOKEN\nENCRYPTION_KEY\nAPI_KEY_SECRET\nLIBSQL_AUTH_TOKEN\n',
        JSON.stringify(
          ['ADMIN_TOKEN', 'ENCRYPTION_KEY', 'API_KEY_SECRET', 'LIBSQL_AUTH_TOKEN'].map((name) => ({
            name,
            type: 'secret_text',
          })),
        ),
      ]) {
        const checks = await deployCheck(await ready({ secretsFile: file(text) }))
        expect(failures(checks)).toEqual([])
        expect(checks.find((c) => c.area === 'secrets')?.message).toMatch(/checked for presence only/)
      }
      const partial = await deployCheck(await ready({ secretsFile: file('ADMIN_TOKEN\nAPI_KEY_SECRET\n') }))
      expect(failures(partial)).toHaveLength(2)
    })

    it('fails with "cannot check" when nothing says which secrets are set (no API token, no file)', async () => {
      const checks = await deployCheck(
        await ready({ secretsFile: undefined, simulatorSecretsFile: undefined, queuesFile: undefined }),
      )
      expect(failures(checks)).toEqual([
        'secrets: cannot check the secrets of transfer-gateway-production: CLOUDFLARE_API_TOKEN is not set and no --secrets-file was given, so nothing says which secrets are set',
        `queues: cannot check that the queues ${PRODUCTION_QUEUES.join(', ')} exist: CLOUDFLARE_API_TOKEN is not set and no --queues-file was given, so nothing says which queues exist`,
        'simulator: cannot check the secrets of transfer-gateway-simulator-production: CLOUDFLARE_API_TOKEN is not set and no --simulator-secrets-file was given, so nothing says which secrets are set',
      ])
    })

    it('reports a secret in [vars] (plain text in wrangler.toml)', async () => {
      const gateway = inProduction(productionUrl(gatewayToml, DATABASE), (s) =>
        s.replace('[env.production.vars]\n', `[env.production.vars]\nADMIN_TOKEN = "${'a'.repeat(20)}"\n`),
      )
      const checks = await deployCheck(await ready({ gateway }))
      expect(failures(checks)).toEqual([expect.stringMatching(/^vars: ADMIN_TOKEN is in \[env.production.vars\]/)])
    })
  })

  describe('queues', () => {
    it('names each queue that does not exist, with the command that creates it', async () => {
      const checks = await deployCheck(
        await ready({ queuesFile: file(`${PRODUCTION_QUEUES[0]}\ntransfer-gateway-staging-deliveries-dlq\n`) }),
      )
      expect(failures(checks)).toEqual([
        `queues: the queue ${PRODUCTION_QUEUES[1]} does not exist (from ${checks.find((c) => c.area === 'queues' && !c.ok)?.message.match(/from (.*)\)/)?.[1]}): npx wrangler queues create ${PRODUCTION_QUEUES[1]}`,
      ])
    })

    it('reports an environment whose queue has no consumer or no dead-letter queue', async () => {
      const base = productionUrl(gatewayToml, DATABASE)
      const noDlq = inProduction(base, (s) => s.replace(/^dead_letter_queue = .*\n/m, ''))
      expect(failures(await deployCheck(await ready({ gateway: noDlq })))).toEqual([
        `queues: the consumer of ${PRODUCTION_QUEUES[0]} has no dead_letter_queue`,
      ])
      const noConsumer = inProduction(base, (s) => s.replace(/\[\[env\.production\.queues\.consumers\]\][^[]*/, ''))
      expect(failures(await deployCheck(await ready({ gateway: noConsumer })))).toEqual([
        `queues: no consumer of ${PRODUCTION_QUEUES[0]} in [env.production]: nothing would send the callbacks queued`,
      ])
    })
  })

  describe('the Cloudflare API, when CLOUDFLARE_API_TOKEN is set', () => {
    let api: Server
    let base: string
    const seen: string[] = []
    // What the account holds: secrets per Worker (absent: the Worker does not exist) and queue names.
    const account = {
      secrets: { 'transfer-gateway-production': ['ADMIN_TOKEN', 'API_KEY_SECRET'] } as Record<string, string[]>,
      queues: [PRODUCTION_QUEUES[0]] as string[],
    }
    beforeAll(async () => {
      api = createServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization}`)
        const url = new URL(req.url!, 'http://x')
        const answer = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(body))
        }
        const secrets = url.pathname.match(/^\/accounts\/acct-1\/workers\/scripts\/([^/]+)\/secrets$/)
        if (secrets) {
          const names = account.secrets[decodeURIComponent(secrets[1]!)]
          if (!names)
            return answer(404, {
              success: false,
              errors: [{ code: 10007, message: 'This Worker does not exist on your account.' }],
              result: null,
            })
          return answer(200, {
            success: true,
            errors: [],
            result: names.map((name) => ({ name, type: 'secret_text' })),
          })
        }
        if (url.pathname === '/accounts/acct-1/queues') {
          const names = url.searchParams.getAll('name')
          const result = account.queues
            .filter((q) => names.includes(q))
            .map((queue_name) => ({ queue_name, queue_id: queue_name }))
          return answer(200, { success: true, errors: [], result })
        }
        answer(404, { success: false, errors: [{ code: 7003, message: 'No route for that URI' }] })
      })
      await new Promise<void>((done) => api.listen(0, '127.0.0.1', done))
      base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`
    })
    afterAll(() => new Promise<void>((done) => api.close(() => done())))

    it('learns set secrets and existing queues from the API: what is missing is named', async () => {
      const options = await ready({ secretsFile: undefined, simulatorSecretsFile: undefined, queuesFile: undefined })
      const checks = await deployCheck({
        ...options,
        vars: {
          ...options.vars,
          CLOUDFLARE_API_TOKEN: 'cf-token',
          CLOUDFLARE_ACCOUNT_ID: 'acct-1',
          CLOUDFLARE_API_BASE_URL: base,
        },
      })
      expect(failures(checks)).toEqual([
        'secrets: ENCRYPTION_KEY is not set on transfer-gateway-production (from the Cloudflare API (Worker transfer-gateway-production)): npx wrangler secret put ENCRYPTION_KEY --env production',
        'secrets: LIBSQL_AUTH_TOKEN is not set on transfer-gateway-production (from the Cloudflare API (Worker transfer-gateway-production)): npx wrangler secret put LIBSQL_AUTH_TOKEN --env production',
        `queues: the queue ${PRODUCTION_QUEUES[1]} does not exist (from the Cloudflare API): npx wrangler queues create ${PRODUCTION_QUEUES[1]}`,
        // Never deployed, no secret put yet: the simulator Worker does not exist.
        'simulator: LIBSQL_AUTH_TOKEN is not set on transfer-gateway-simulator-production (from the Cloudflare API (Worker transfer-gateway-simulator-production)): npx wrangler secret put LIBSQL_AUTH_TOKEN -c sandbox/simulator/wrangler.toml --env production',
      ])
      expect(seen).toContain('GET /accounts/acct-1/workers/scripts/transfer-gateway-production/secrets Bearer cf-token')
    })

    it('passes once the account has them', async () => {
      account.secrets['transfer-gateway-production'] = [
        'ADMIN_TOKEN',
        'ENCRYPTION_KEY',
        'API_KEY_SECRET',
        'LIBSQL_AUTH_TOKEN',
      ]
      account.secrets['transfer-gateway-simulator-production'] = ['LIBSQL_AUTH_TOKEN']
      account.queues = [...PRODUCTION_QUEUES]
      const options = await ready({ secretsFile: undefined, simulatorSecretsFile: undefined, queuesFile: undefined })
      const checks = await deployCheck({
        ...options,
        vars: {
          ...options.vars,
          CLOUDFLARE_API_TOKEN: 'cf-token',
          CLOUDFLARE_ACCOUNT_ID: 'acct-1',
          CLOUDFLARE_API_BASE_URL: base,
        },
      })
      expect(failures(checks)).toEqual([])
    })

    it('a token without an account id cannot check, and says so', async () => {
      const options = await ready({ secretsFile: undefined, simulatorSecretsFile: undefined, queuesFile: undefined })
      const checks = await deployCheck({ ...options, vars: { ...options.vars, CLOUDFLARE_API_TOKEN: 'cf-token' } })
      expect(failures(checks)).toHaveLength(3)
      expect(
        failures(checks).every((f) => f.includes('cannot check') && f.includes('CLOUDFLARE_ACCOUNT_ID is not set')),
      ).toBe(true)
    })
  })

  describe('the environment in wrangler.toml', () => {
    const base = () => productionUrl(gatewayToml, DATABASE)

    it('reports a missing cron, or one that does not run every minute', async () => {
      const none = inProduction(base(), (s) => s.replace('crons = ["* * * * *"]', 'crons = []'))
      expect(failures(await deployCheck(await ready({ gateway: none })))).toEqual([
        'cron: no cron trigger in [env.production.triggers]: due callbacks would never be retried, nor transfers expired or reconciled',
      ])
      const hourly = inProduction(base(), (s) => s.replace('crons = ["* * * * *"]', 'crons = ["0 * * * *"]'))
      expect(failures(await deployCheck(await ready({ gateway: hourly })))).toEqual([
        'cron: the cron runs 0 * * * *, not every minute (* * * * *) as retries and expiry assume',
      ])
    })

    it('reports compatibility settings other than the ones the tests run', async () => {
      const flags = inProduction(base(), (s) =>
        s.replace('[env.production]\n', '[env.production]\ncompatibility_flags = ["nodejs_compat"]\n'),
      )
      expect(failures(await deployCheck(await ready({ gateway: flags })))).toEqual([
        expect.stringMatching(
          /^compatibility: compatibility date 2026-04-20 and flags nodejs_compat differ from the ones the tests run \(2026-04-20, flags none\)/,
        ),
      ])
      const future = inProduction(base(), (s) =>
        s.replace('[env.production]\n', '[env.production]\ncompatibility_date = "2027-01-01"\n'),
      )
      expect(failures(await deployCheck(await ready({ gateway: future })))).toEqual([
        'compatibility: compatibility_date 2027-01-01 is in the future',
      ])
    })

    it('reports a binding left at the top level only (wrangler does not inherit it) and what it breaks', async () => {
      const noLimiter = inProduction(base(), (s) =>
        s.replace(/\[\[env\.production\.durable_objects\.bindings\]\][^[]*/, ''),
      )
      expect(failures(await deployCheck(await ready({ gateway: noLimiter })))).toEqual([
        expect.stringMatching(
          /^configuration: wrangler warns: "durable_objects" exists at the top level, but not on "env.production"/,
        ),
        'Durable Object: no RATE_LIMITER binding to PartnerRateLimiter in [env.production]: every request would fail its rate limit',
      ])
    })

    it('reports settings the Worker would refuse or that are never for a deployment', async () => {
      const dev = inProduction(base(), (s) => s.replace('ENVIRONMENT = "production"', 'ENVIRONMENT = "development"'))
      expect(failures(await deployCheck(await ready({ gateway: dev })))).toEqual([
        'vars: ENVIRONMENT is "development": a deployed environment runs as "production" (https providers, public receivers)',
      ])
      const http = inProduction(base(), (s) =>
        s.replace('[env.production.vars]\n', '[env.production.vars]\nWEBHOOK_ALLOW_HTTP = "true"\n'),
      )
      expect(failures(await deployCheck(await ready({ gateway: http })))).toEqual([
        'vars: WEBHOOK_ALLOW_HTTP is on: never in a deployed environment',
      ])
      const invalid = inProduction(base(), (s) => s.replace('CONFIRM_ATTEMPTS = "5"', 'CONFIRM_ATTEMPTS = "zero"'))
      expect(failures(await deployCheck(await ready({ gateway: invalid })))).toEqual([
        expect.stringMatching(/^vars: the Worker would refuse its settings: CONFIRM_ATTEMPTS: /),
      ])
    })

    it('reports a configuration wrangler cannot read, one without LIBSQL_URL, queue producer or class migration', async () => {
      const broken = await deployCheck(
        await ready({ gateway: `${productionUrl(gatewayToml, DATABASE)}\n[env.production\n` }),
      )
      expect(failures(broken)).toEqual([
        expect.stringMatching(/^configuration: wrangler cannot read .* for --env production: /),
      ])

      const noUrl = inProduction(productionUrl(gatewayToml, DATABASE), (s) => s.replace(/^LIBSQL_URL = .*\n/m, ''))
      expect(failures(await deployCheck(await ready({ gateway: noUrl })))).toEqual([
        'configuration: wrangler warns: "vars.LIBSQL_URL" exists at the top level, but not on "env.production.vars".',
        expect.stringMatching(/^vars: the Worker would refuse its settings: LIBSQL_URL: /),
        'LIBSQL_URL: LIBSQL_URL is not set in [env.production.vars]',
        expect.stringMatching(
          /^simulator: the simulator's LIBSQL_URL \(libsql:\/\/127.0.0.1\/\) is not the gateway's \(unset\)/,
        ),
      ])

      const noProducer = inProduction(productionUrl(gatewayToml, DATABASE), (s) =>
        s.replace(/\[\[env\.production\.queues\.producers\]\][^[]*/, ''),
      )
      expect(failures(await deployCheck(await ready({ gateway: noProducer })))).toEqual([
        'queues: no DELIVERIES queue producer in [env.production]: callbacks would wait for the cron',
      ])

      const noClassMigration = productionUrl(gatewayToml, DATABASE).replace(
        '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["PartnerRateLimiter"]\n',
        '',
      )
      expect(failures(await deployCheck(await ready({ gateway: noClassMigration })))).toEqual([
        // wrangler itself warns about a Durable Object without a migration.
        expect.stringMatching(/^configuration: wrangler warns: /),
        'Durable Object: no [[migrations]] entry creates the PartnerRateLimiter class',
      ])
    })

    it('reports an environment wrangler.toml does not define', async () => {
      const checks = await deployCheck(await ready({ env: 'prod' }))
      expect(failures(checks)).toEqual([
        expect.stringMatching(/^configuration: .* has no \[env\.prod\] \(environments defined: staging, production\)$/),
      ])
    })

    it('reports a simulator that is not the one SIMULATOR names, or on another database', async () => {
      const otherDb = productionUrl(simulatorToml, 'libsql://other.turso.io')
      expect(failures(await deployCheck(await ready({ simulator: otherDb })))).toEqual([
        `simulator: the simulator's LIBSQL_URL (libsql://other.turso.io) is not the gateway's (${DATABASE}): its state lives in the same database`,
      ])
      const renamed = inProduction(productionUrl(gatewayToml, DATABASE), (s) =>
        s.replace('service = "transfer-gateway-simulator-production"', 'service = "transfer-gateway-simulator"'),
      )
      expect(failures(await deployCheck(await ready({ gateway: renamed })))).toEqual([
        "simulator: SIMULATOR names transfer-gateway-simulator, but the simulator's [env.production] deploys transfer-gateway-simulator-production",
      ])
      const noEnv = simulatorToml.slice(0, simulatorToml.indexOf('[env.production]'))
      expect(failures(await deployCheck(await ready({ simulator: noEnv })))).toEqual([
        expect.stringMatching(
          /^simulator: .* has no \[env\.production\], but SIMULATOR names transfer-gateway-simulator-production$/,
        ),
      ])
      const noVars = inProduction(productionUrl(simulatorToml, DATABASE), (s) =>
        s.replace(/\[env\.production\.vars\]\nLIBSQL_URL = .*\n/, ''),
      )
      expect(failures(await deployCheck(await ready({ simulator: noVars })))).toEqual([
        expect.stringMatching(
          /^simulator: wrangler warns about the simulator: "vars" exists at the top level, but not on "env.production"/,
        ),
        expect.stringMatching(/^simulator: the simulator's LIBSQL_URL \(unset\) is not the gateway's/),
      ])
      expect(failures(await deployCheck(await ready({ simulatorSecretsFile: file('# none yet\n') })))).toEqual([
        expect.stringMatching(/^simulator: LIBSQL_AUTH_TOKEN is not set on transfer-gateway-simulator-production/),
      ])
    })
  })

  describe('npm run deploy:check', () => {
    const run = (args: string[], env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((done, fail) => {
        const child = spawn(join(root, 'node_modules/.bin/tsx'), ['scripts/deploy-check.ts', ...args], {
          cwd: root,
          env: { ...process.env, CLOUDFLARE_API_TOKEN: '', LIBSQL_AUTH_TOKEN: '', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        })
        let out = ''
        child.stdout.on('data', (d) => (out += d))
        child.stderr.on('data', (d) => (out += d))
        child.on('error', fail)
        child.on('exit', (code) => done({ code, out }))
      })

    it('exits 0 and says so when nothing is missing; 1, listing each missing piece in plain words, when something is', async () => {
      const o = await ready()
      const args = [
        '--env',
        'production',
        '--config',
        o.config,
        '--simulator-config',
        o.simulatorConfig,
        '--simulator-secrets-file',
        o.simulatorSecretsFile,
        '--queues-file',
        o.queuesFile,
      ]
      const good = await run([...args, '--secrets-file', o.secretsFile], { LIBSQL_URL: o.vars.LIBSQL_URL! })
      expect(good.out).toContain('Nothing missing: ready to deploy production.')
      expect(good.code).toBe(0)

      const bad = await run([...args, '--secrets-file', file('ADMIN_TOKEN\n')], { LIBSQL_URL: newDatabase() })
      expect(bad.code).toBe(1)
      expect(bad.out).toMatch(/MISSING +secrets: ENCRYPTION_KEY is not set on transfer-gateway-production/)
      expect(bad.out).toMatch(new RegExp(`MISSING +migrations: ${TAGS.length} migrations pending on `))
      expect(bad.out).toContain('4 things to fix before deploying production.')
    }, 120_000)

    it('exits 2 without --env', async () => {
      const { code, out } = await run([], {})
      expect(code).toBe(2)
      expect(out).toContain('--env <name> is required')
    }, 120_000)
  })
})
