import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { drizzle } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url))

/** Applies db/migrations to any libSQL URL (http(s), libsql, file); already-applied ones are skipped. */
export const migrateDatabase = async (url: string, authToken?: string) => {
  const client = createClient({ url, authToken: authToken || undefined })
  try {
    await migrate(drizzle({ client }), { migrationsFolder })
  } finally {
    client.close()
  }
}

// `npm run db:migrate`: LIBSQL_URL (and LIBSQL_AUTH_TOKEN) from the environment.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const url = process.env.LIBSQL_URL ?? 'http://127.0.0.1:8790/'
  await migrateDatabase(url, process.env.LIBSQL_AUTH_TOKEN)
  console.log(`migrations applied to ${url.replace(/\/\/[^@/]*@/, '//')}`)
}
