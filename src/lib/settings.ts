import { z } from 'zod'

/** What wrangler gives the Worker: vars and secrets (strings) plus bindings. */
export type Bindings = {
  LIBSQL_URL: string
  LIBSQL_AUTH_TOKEN?: string
  ADMIN_TOKEN: string
  ADMIN_TOKEN_NEXT?: string
  ENCRYPTION_KEY: string
  API_KEY_SECRET: string
  /** Queue of callback deliveries (producer and consumer are this Worker). */
  DELIVERIES?: Queue<{ delivery_id: string }>
  /** The test-mode provider simulator (a second Worker); test traffic without a test connection goes there. */
  SIMULATOR?: Fetcher
  /** Workers Analytics Engine dataset: a data point per request and per callback attempt (src/lib/metrics.ts). */
  METRICS?: AnalyticsEngineDataset
  [name: string]: unknown
}

const seconds = (fallback: number) => z.coerce.number().int().min(0).default(fallback)
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1')
const schedule = z
  .string()
  .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'comma-separated seconds')
  .default('5,300,1800,7200,18000,36000,36000')
  .transform((v) => v.split(',').map((n) => Number(n.trim())))

const settingsSchema = z.object({
  LIBSQL_URL: z.url(),
  LIBSQL_AUTH_TOKEN: z.string().optional(),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  // The next admin token, accepted beside ADMIN_TOKEN while clients move to it; empty or unset: none.
  ADMIN_TOKEN_NEXT: z
    .union([z.literal(''), z.string().min(16, 'ADMIN_TOKEN_NEXT must be at least 16 characters')])
    .optional()
    .transform((v) => v || undefined),
  ENCRYPTION_KEY: z.base64().refine((v) => atob(v).length === 32, 'ENCRYPTION_KEY must be 32 bytes, base64'),
  API_KEY_SECRET: z.string().min(16, 'API_KEY_SECRET must be at least 16 characters'),
  ENVIRONMENT: z.enum(['development', 'test', 'production']).default('production'),
  RESEND_LIMIT: z.coerce.number().int().min(0).default(3),
  RESEND_COOLDOWN_SECONDS: seconds(60),
  CONFIRM_ATTEMPTS: z.coerce.number().int().min(1).default(5),
  PENDING_TTL_SECONDS: seconds(24 * 3600),
  PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  // Document uploads carry up to 20 MB to sFOX: they get longer.
  PROVIDER_UPLOAD_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  API_KEY_CACHE_SECONDS: seconds(30),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024),
  // Per partner (overridable per partner): requests per window.
  RATE_LIMIT: z.coerce.number().int().min(1).default(100),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).default(10),
  // Comma-separated origins allowed to call /v1 from browsers; empty: no CORS at all.
  CORS_ALLOWED_ORIGINS: z.string().default(''),
  // How long delivered/failed callback history (events, deliveries, attempts) is kept.
  EVENT_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  // How often an isolate adds its provider call counts to the table /admin/health reads.
  PROVIDER_STATS_FLUSH_SECONDS: z.coerce.number().int().min(0).default(10),
  // How long the audit log keeps its entries.
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).default(365),
  // Callbacks to partners
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(15_000),
  WEBHOOK_RETRY_SCHEDULE_SECONDS: schedule,
  WEBHOOK_RETRY_JITTER: z.coerce.number().min(0).max(1).default(0.2),
  WEBHOOK_DISABLE_AFTER_SECONDS: seconds(5 * 24 * 3600),
  WEBHOOK_SECRET_GRACE_SECONDS: seconds(24 * 3600),
  WEBHOOK_ALLOW_HTTP: flag(false),
  WEBHOOK_ALLOW_PRIVATE_HOSTS: flag(false),
  // Cron work per run (bounded so one run stays well inside the Workers limits)
  SWEEP_BATCH_SIZE: z.coerce.number().int().min(1).default(500),
  // How long a queue message is trusted to arrive before the sweeper sends another: a queue delivers
  // within seconds unless it is far behind, and then enqueueing the same deliveries again only lengthens it.
  SWEEP_REENQUEUE_AFTER_SECONDS: seconds(300),
  RECONCILE_BATCH_SIZE: z.coerce.number().int().min(1).default(200),
  // QI pushes webhooks; a TED is only asked about after this long without news.
  RECONCILE_QUIET_SECONDS: seconds(60),
  // sFOX allows 250 requests per 10 s per IP; the reconciler stays under this share of it.
  SFOX_REQUESTS_PER_10S: z.coerce.number().int().min(1).max(250).default(100),
  // sFOX's history answers at most this many rows, with no cursor (documented: 25,000).
  SFOX_HISTORY_MAX_ROWS: z.coerce.number().int().min(1).default(25_000),
  // QI's pages mention "the token validation attempt limit" but state neither it nor the token's
  // lifetime: these are the gateway's assumptions (QI's sandbox behaviour), correctable per deployment.
  QI_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).default(300),
  QI_TOKEN_ATTEMPTS: z.coerce.number().int().min(1).default(5),
  // How far a QI-signed timestamp (webhooks, signed answers) may be from our clock; QI's samples
  // leave it open, so the default is generous.
  QI_SIGNATURE_TOLERANCE_SECONDS: z.coerce.number().int().min(1).default(900),
  // The gateway's own limit per uploaded document (sFOX documents none); the total stays 20 MB.
  DOCUMENT_MAX_FILE_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(20 * 1024 * 1024)
    .default(10 * 1024 * 1024),
  // Where problem `type` URIs point; empty: this deployment's own /problems/{code} pages.
  PROBLEM_TYPE_BASE: z.union([z.literal(''), z.url()]).default(''),
})

export type Settings = z.infer<typeof settingsSchema>

export class ConfigError extends Error {}

// Parsed once per isolate: env objects are stable for an isolate's lifetime.
const cache = new WeakMap<object, Settings>()

export const settingsOf = (env: Bindings): Settings => {
  let settings = cache.get(env)
  if (!settings) {
    const parsed = settingsSchema.safeParse(env)
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
      throw new ConfigError(`invalid configuration: ${fields}`)
    }
    settings = parsed.data
    cache.set(env, settings)
  }
  return settings
}
