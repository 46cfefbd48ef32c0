import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Unstable_Config, unstable_readConfig } from 'wrangler'

// The staging and production environments of wrangler.toml and sandbox/simulator/wrangler.toml: each builds with
// `wrangler deploy --dry-run --env <name>` (what CI then runs through .ci/run, since this file is part of `npm test`),
// and wrangler's bindings table for it is exactly the environment's own bindings. Wrangler inherits no binding into
// an environment, so anything declared at the top level and forgotten in an environment fails here.

const root = fileURLToPath(new URL('../..', import.meta.url))
const ENVIRONMENTS = ['staging', 'production'] as const
const GATEWAY = 'wrangler.toml'
const SIMULATOR = 'sandbox/simulator/wrangler.toml'
const work = mkdtempSync(join(tmpdir(), 'tgw-environments-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

type Build = { output: string; outdir: string }

const dryRun = (config: string, env: string) =>
  new Promise<Build>((done, fail) => {
    const outdir = join(work, `${config.replaceAll('/', '_')}-${env}`)
    const child = spawn(
      join(root, 'node_modules/.bin/wrangler'),
      ['deploy', '--dry-run', '-c', config, '--env', env, '--outdir', outdir],
      {
        cwd: root,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', WRANGLER_LOG: 'log', FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', fail)
    child.on('exit', (code) =>
      code === 0 ? done({ output, outdir }) : fail(new Error(`wrangler --env ${env} -c ${config} failed:\n${output}`)),
    )
  })

const read = (config: string, env?: string): Unstable_Config =>
  unstable_readConfig({ config: join(root, config), ...(env ? { env } : {}) }, { hideWarnings: true })

/** The rows of wrangler's "Your Worker has access to the following bindings" table: `env.NAME (resource)` → type. */
const printedBindings = (output: string) =>
  output
    .split('\n')
    .map((line) => line.match(/^env\.(\w+)(?: \((.*)\))?\s{2,}(\S.*?)\s*$/))
    .filter((m): m is RegExpMatchArray => !!m)
    .map(([, name, resource, type]) => ({ name: name!, resource: resource ?? '', type: type! }))

/** What the environment's own configuration says wrangler should print, for the kinds of binding this Worker has. */
const expectedBindings = (config: Unstable_Config) => [
  ...(config.durable_objects?.bindings ?? []).map((b) => ({
    name: b.name,
    resource: b.class_name,
    type: 'Durable Object',
  })),
  ...(config.queues?.producers ?? []).map((q) => ({ name: q.binding, resource: q.queue, type: 'Queue' })),
  ...(config.services ?? []).map((s) => ({ name: s.binding, resource: s.service, type: 'Worker' })),
  ...Object.entries(config.vars ?? {}).map(([name, value]) => ({
    name,
    resource: JSON.stringify(value),
    type: 'Environment Variable',
  })),
]

/**
 * The name of every binding the configuration declares, of any kind (a list of `{ binding }` such as
 * analytics_engine_datasets or kv_namespaces, or one `{ binding }` such as assets): a binding added later is
 * covered without this file knowing its kind.
 */
const bindingNames = (config: Unstable_Config) => {
  const names = new Set(expectedBindings(config).map((b) => b.name))
  for (const [field, value] of Object.entries(config)) {
    if (field === 'queues' || field === 'durable_objects' || field === 'vars') continue
    for (const item of Array.isArray(value) ? value : [value])
      if (item && typeof item === 'object' && typeof (item as { binding?: unknown }).binding === 'string')
        names.add((item as { binding: string }).binding)
  }
  return [...names].sort()
}

/** wrangler shortens long values in its table: `"libsql://transfer-gateway-staging.exa..."`. */
const sameResource = (printed: string, expected: string) =>
  printed === expected || (printed.endsWith('..."') && expected.startsWith(printed.slice(0, -4)))

const builds = new Map<string, Build>()
beforeAll(async () => {
  // Two at a time: the four builds share the machine with the rest of the suite.
  for (const env of ENVIRONMENTS) {
    const [gateway, simulator] = await Promise.all([dryRun(GATEWAY, env), dryRun(SIMULATOR, env)])
    builds.set(`${GATEWAY}:${env}`, gateway)
    builds.set(`${SIMULATOR}:${env}`, simulator)
  }
}, 240_000)

describe.each(ENVIRONMENTS)('the %s environment', (env) => {
  describe.each([GATEWAY, SIMULATOR])('built from %s', (config) => {
    it('builds with wrangler deploy --dry-run --env, without a warning, into a bundle', () => {
      const { output, outdir } = builds.get(`${config}:${env}`)!
      expect(output).not.toMatch(/WARNING|not inherited/)
      expect(output).toMatch(/Total Upload: [\d.]+ KiB \/ gzip: [\d.]+ KiB/)
      expect(output).toContain('--dry-run: exiting now.')
      expect(statSync(join(outdir, 'index.js')).size).toBeGreaterThan(100_000)
    })

    it("prints exactly the environment's own bindings (wrangler inherits none from the top level)", () => {
      const own = read(config, env)
      const printed = printedBindings(builds.get(`${config}:${env}`)!.output)
      expect(printed.map((b) => b.name).sort()).toEqual(bindingNames(own))
      for (const want of expectedBindings(own)) {
        const got = printed.find((b) => b.name === want.name)!
        expect(got.type, want.name).toBe(want.type)
        expect(
          sameResource(got.resource, want.resource),
          `${want.name}: printed ${got.resource}, configured ${want.resource}`,
        ).toBe(true)
      }
      // Every binding and var of the top level is repeated (values may differ: LIBSQL_URL, queue names…).
      expect(bindingNames(own)).toEqual(expect.arrayContaining(bindingNames(read(config))))
    })
  })

  it('has its own Worker, queues, Durable Object namespace, cron, observability and simulator', () => {
    const gateway = read(GATEWAY, env)
    const simulator = read(SIMULATOR, env)
    expect(gateway.name).toBe(`transfer-gateway-${env}`)
    expect(simulator.name).toBe(`transfer-gateway-simulator-${env}`)
    expect(gateway.queues.producers).toEqual([{ binding: 'DELIVERIES', queue: `transfer-gateway-${env}-deliveries` }])
    expect(gateway.queues.consumers).toEqual([
      expect.objectContaining({
        queue: `transfer-gateway-${env}-deliveries`,
        dead_letter_queue: `transfer-gateway-${env}-deliveries-dlq`,
        max_retries: 10,
      }),
    ])
    // The Durable Object lives in this environment's own Worker (no script_name pointing elsewhere).
    expect(gateway.durable_objects.bindings).toEqual([{ name: 'RATE_LIMITER', class_name: 'PartnerRateLimiter' }])
    expect(gateway.migrations).toEqual(read(GATEWAY).migrations)
    expect(gateway.triggers.crons).toEqual(['* * * * *'])
    expect(gateway.observability).toMatchObject({ enabled: true })
    expect(simulator.observability).toMatchObject({ enabled: true })
    expect(gateway.vars).toMatchObject({ ENVIRONMENT: 'production' })
    // The simulator is the one SIMULATOR names, on the same database, and reachable only through the binding.
    expect(gateway.services).toEqual([{ binding: 'SIMULATOR', service: simulator.name }])
    expect(simulator.vars.LIBSQL_URL).toBe(gateway.vars.LIBSQL_URL)
    expect(simulator.workers_dev).toBe(false)
    expect(simulator.preview_urls).toBe(false)
    // The runtime the tests run.
    expect([gateway.compatibility_date, gateway.compatibility_flags]).toEqual([
      read(GATEWAY).compatibility_date,
      read(GATEWAY).compatibility_flags,
    ])
    expect([simulator.compatibility_date, simulator.compatibility_flags]).toEqual([
      read(SIMULATOR).compatibility_date,
      read(SIMULATOR).compatibility_flags,
    ])
  })
})

describe('environments', () => {
  it('share nothing: no queue, Worker or database of one is another’s, nor the top level’s', () => {
    const resources = (config: Unstable_Config) => [
      config.name,
      ...(config.queues.producers ?? []).map((q) => q.queue),
      ...(config.queues.consumers ?? []).flatMap((q) => [q.queue, q.dead_letter_queue]),
      ...(config.services ?? []).map((s) => s.service),
      String(config.vars.LIBSQL_URL),
    ]
    const all = [read(GATEWAY), ...ENVIRONMENTS.map((env) => read(GATEWAY, env))].map((c) => [...new Set(resources(c))])
    const flat = all.flat().filter(Boolean)
    expect(new Set(flat).size).toBe(flat.length)
  })

  it('are the ones the deploy workflow offers', () => {
    const workflow = readFileSync(join(root, '.github/workflows/deploy.yml'), 'utf8')
    const options = workflow.match(/options:\n((?:\s+- .+\n)+)/)?.[1]
    expect(
      options
        ?.split('\n')
        .filter(Boolean)
        .map((l) => l.trim().replace(/^- /, '')),
    ).toEqual([...ENVIRONMENTS])
  })
})
