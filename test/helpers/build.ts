import { spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Bundles the Worker exactly as `wrangler deploy` would (dry run), so tests run the real bundle in
 * workerd. Asynchronous on purpose: a synchronous child would block servers in the same process.
 */
export const buildWorker = async (root: string): Promise<string> => {
  const outdir = await mkdtemp(join(tmpdir(), 'tgw-build-'))
  await new Promise<void>((resolve, reject) => {
    const child = spawn(join(root, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`wrangler build failed:\n${output}`))))
  })
  return join(outdir, 'index.js')
}
