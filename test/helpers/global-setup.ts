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
  }
}

/** Once per run: the Worker bundle, its wrangler-derived options and one libSQL server (a database per test file). */
export default async function setup(project: TestProject) {
  const root = project.config.root
  const dataDir = await mkdtemp(join(tmpdir(), 'tgw-libsql-'))
  const [libsql, build] = await Promise.all([startLibsqlServer({ port: 0, dataDir }), buildWorker(root)])
  const workerScript = build.scriptPath
  const workerOptions = workerOptionsFromConfig(root)
  project.provide('libsqlUrl', libsql.url)
  project.provide('workerScript', workerScript)
  project.provide('workerOptions', JSON.stringify(workerOptions))
  return async () => {
    await libsql.close()
    await rm(dataDir, { recursive: true, force: true })
    await rm(dirname(workerScript), { recursive: true, force: true })
  }
}
