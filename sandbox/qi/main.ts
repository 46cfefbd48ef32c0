import { startQiSandbox } from './server'

/**
 * `tsx sandbox/qi/main.ts` — port from QI_SANDBOX_PORT (default 8789). QI_SANDBOX_PRIVATE_KEY_PEM
 * optionally fixes QI's key pair across restarts (otherwise GET /_sandbox/qi-public-key gives the new one).
 */
const port = Number(process.env.QI_SANDBOX_PORT ?? 8789)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`QI_SANDBOX_PORT must be a port number, got ${process.env.QI_SANDBOX_PORT}`)
  process.exit(1)
}

const server = await startQiSandbox({ port, qi_private_key_pem: process.env.QI_SANDBOX_PRIVATE_KEY_PEM || undefined })
console.log(`QI sandbox listening on ${server.url}`)

const stop = () => {
  void server.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
