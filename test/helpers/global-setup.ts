import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { TestProject } from 'vitest/node'
import { startLibsqlServer } from '../../sandbox/libsql-server/server'
import { buildWorker } from './build'
import { workerOptionsFromConfig } from './worker'

declare module 'vitest' {
  export interface ProvidedContext {
    libsqlUrl: string
    workerScript: string
    workerOptions: string
    /** The test-mode simulator Worker's bundle (sandbox/simulator) and its wrangler-derived options (JSON). */
    simulatorScript: string
    simulatorOptions: string
  }
}

/**
 * Once per run: the Worker bundle, its wrangler-derived options, the simulator Worker's bundle and one libSQL server
 * (a database per test file).
 */
export default async function setup(project: TestProject) {
  const root = project.config.root
  const dataDir = await mkdtemp(join(tmpdir(), 'tgw-libsql-'))
  const [libsql, build, simulator] = await Promise.all([
    startLibsqlServer({ port: 0, dataDir }),
    buildWorker(root),
    buildWorker(root, { config: 'sandbox/simulator/wrangler.toml' }),
  ])
  const workerScript = build.scriptPath
  const workerOptions = workerOptionsFromConfig(root)
  project.provide('libsqlUrl', libsql.url)
  project.provide('workerScript', workerScript)
  project.provide('workerOptions', JSON.stringify(workerOptions))
  project.provide('simulatorScript', simulator.scriptPath)
  // Named as in its wrangler.toml: the gateway's SIMULATOR service binding refers to the Worker by that name.
  const simulatorOptions = {
    ...workerOptionsFromConfig(root, 'sandbox/simulator/wrangler.toml'),
    name: 'transfer-gateway-simulator',
  }
  project.provide('simulatorOptions', JSON.stringify(simulatorOptions))
  return async () => {
    await libsql.close()
    await rm(dataDir, { recursive: true, force: true })
    await rm(dirname(workerScript), { recursive: true, force: true })
    await rm(dirname(simulator.scriptPath), { recursive: true, force: true })
  }
}
