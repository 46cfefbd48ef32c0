import { listen } from '../shared/serve'
import { createQiSandbox, type QiSandboxOptions } from './app'

/** Serves the QI sandbox on 127.0.0.1 (port 0 = a free port). */
export const startQiSandbox = async ({ port = 0, ...options }: QiSandboxOptions & { port?: number } = {}) => {
  const sandbox = createQiSandbox(options)
  const server = await listen(sandbox.app, port)
  return {
    url: server.url,
    port: server.port,
    state: sandbox.state,
    store: sandbox.store,
    settings: sandbox.settings,
    clock: sandbox.clock,
    qiPublicKeyPem: sandbox.qiPublicKeyPem,
    close: async () => {
      sandbox.close()
      await server.close()
    },
  }
}

export type QiSandboxServer = Awaited<ReturnType<typeof startQiSandbox>>
