import { resolve } from 'node:path'
import { startLibsqlServer } from './server'

// Local libSQL server for dev: `tsx sandbox/libsql-server/main.ts`.
const port = Number(process.env.LIBSQL_PORT ?? 8790)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`libsql-server: invalid LIBSQL_PORT ${JSON.stringify(process.env.LIBSQL_PORT)}`)
  process.exit(1)
}
const dataDir = resolve(process.env.LIBSQL_DATA_DIR ?? '.data/libsql')

const server = await startLibsqlServer({ port, host: '127.0.0.1', dataDir })
console.log(`libsql-server listening on ${server.url} (data in ${dataDir})`)

let stopping = false
const stop = () => {
  if (stopping) return
  stopping = true
  server.close().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error('libsql-server: error while closing:', e)
      process.exit(1)
    },
  )
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
