import { defineConfig } from 'drizzle-kit'

// `npm run db:generate` writes migrations from db/schema.ts; `npm run db:migrate` applies them.
export default defineConfig({
  dialect: 'turso',
  schema: './db/schema.ts',
  out: './db/migrations',
  dbCredentials: {
    url: process.env.LIBSQL_URL ?? 'http://127.0.0.1:8790',
    authToken: process.env.LIBSQL_AUTH_TOKEN,
  },
})
