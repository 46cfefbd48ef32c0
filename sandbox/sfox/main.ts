import { startSfoxSandbox } from './server'

// `tsx sandbox/sfox/main.ts`: a local sFOX Connect API for development.
const port = Number(process.env.SFOX_SANDBOX_PORT ?? 8788)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error('SFOX_SANDBOX_PORT must be a port number')
  process.exit(1)
}
const apiKey = process.env.SFOX_SANDBOX_API_KEY || 'sfox_sandbox_dev_key'

const sandbox = await startSfoxSandbox({ port, api_keys: [apiKey] })
// The key itself is never printed.
console.log(`sFOX sandbox listening on ${sandbox.url}`)

const stop = () => {
  void sandbox.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
