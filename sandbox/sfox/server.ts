import { listen } from '../shared/serve'
import { createSfoxSandbox, type SfoxSandboxOptions } from './app'

/** Serves the sFOX sandbox on 127.0.0.1 (port 0 = a free port). */
export const startSfoxSandbox = async ({ port = 0, ...options }: SfoxSandboxOptions & { port?: number } = {}) => {
  const sandbox = createSfoxSandbox(options)
  const listening = await listen(sandbox.app, port)
  return {
    url: listening.url,
    port: listening.port,
    close: listening.close,
    state: sandbox.state,
    settings: sandbox.settings,
    clock: sandbox.clock,
    app: sandbox.app,
  }
}

export type RunningSfoxSandbox = Awaited<ReturnType<typeof startSfoxSandbox>>
