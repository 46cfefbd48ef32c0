import { spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export type BuiltWorker = {
  /** The bundle workerd runs (`index.js` in a temporary out dir the caller removes). */
  scriptPath: string
  /** What `wrangler deploy --dry-run` printed (its "Total Upload … / gzip …" line included). */
  output: string
}

/**
 * Bundles the Worker exactly as `wrangler deploy` would (dry run), so tests and the bench run the
 * real bundle in workerd. Asynchronous on purpose: a synchronous child would block servers in the
 * same process. WRANGLER_LOG=log so a quieter local setting does not hide the size line.
 */
export const buildWorker = async (
  root: string,
  options: { config?: string; minify?: boolean } = {},
): Promise<BuiltWorker> => {
  const outdir = await mkdtemp(join(tmpdir(), 'tgw-build-'))
  // `config`: another Worker's wrangler.toml (relative to root), e.g. 'sandbox/simulator/wrangler.toml'.
  // `minify: false` keeps the source's names (the profiler's A/B patches find code by them).
  const args = [
    'deploy',
    '--dry-run',
    '--outdir',
    outdir,
    ...(options.config ? ['-c', options.config] : []),
    ...(options.minify === false ? ['--no-minify'] : []),
  ]
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(join(root, 'node_modules/.bin/wrangler'), args, {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: 'true', WRANGLER_LOG: 'log' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let text = ''
    child.stdout.on('data', (d) => (text += d))
    child.stderr.on('data', (d) => (text += d))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrangler build failed:\n${text}`))))
  })
  return { scriptPath: join(outdir, 'index.js'), output }
}
