import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

// The only table definitions of the project. Times are Unix milliseconds (integers), so limits and
// cooldowns are plain arithmetic inside conditional UPDATEs.

export const partners = sqliteTable('partners', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  // Per-partner overrides of the environment defaults; null means "use the default".
  resendLimit: integer('resend_limit'),
  resendCooldownSeconds: integer('resend_cooldown_seconds'),
  confirmAttempts: integer('confirm_attempts'),
  rateLimit: integer('rate_limit'),
  // Normalised CIDRs (IPv4 and IPv6) the partner's API and portal may be used from; null: anywhere.
  ipAllowlist: text('ip_allowlist', { mode: 'json' }).$type<string[] | null>(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    mode: text('mode', { enum: ['test', 'live'] }).notNull(),
    // full: every route; read_only: GET and HEAD only (any other method is 403 key_not_permitted).
    access: text('access', { enum: ['full', 'read_only'] })
      .notNull()
      .default('full'),
    // First characters of the key, kept only so people can tell keys apart.
    prefix: text('prefix').notNull(),
    // HMAC-SHA256 of the whole key under API_KEY_SECRET; the key itself is never stored.
    hash: text('hash').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
    // Written at most once a minute per key, after the answer (never on the request's critical path).
    lastUsedAt: integer('last_used_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_unique').on(t.hash), index('api_keys_partner_idx').on(t.partnerId)],
)

/** One connection check as stored (and shown by GET …/connections as `last_check`). */
export type StoredConnectionCheck = {
  ok: boolean
  checked_at: string
  checks: { name: string; ok: boolean; detail: string; duration_ms: number }[]
}

export const providerConnections = sqliteTable(
  'provider_connections',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    // Test and live never touch each other: every query of an owned row names the mode too.
    mode: text('mode', { enum: ['test', 'live'] })
      .notNull()
      .default('test'),
    provider: text('provider', { enum: ['sfox', 'qi'] }).notNull(),
    baseUrl: text('base_url').notNull(),
    // AES-GCM ciphertext of the provider credentials (see src/lib/crypto.ts); never returned.
    credentials: text('credentials').notNull(),
    // Non-secret settings, e.g. the QI account keys this partner may move money from.
    settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
    // The latest connection check (src/partners/connection-checks.ts): what passed, what to fix.
    lastCheck: text('last_check', { mode: 'json' }).$type<StoredConnectionCheck>(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('provider_connections_partner_mode_provider_unique').on(t.partnerId, t.mode, t.provider)],
)

export const transfers = sqliteTable(
  'transfers',
  {
    // Our id (time-ordered); it is also the id sent to sFOX, so it is unique across partners.
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    // Test and live never touch each other: every query of an owned row names the mode too.
    mode: text('mode', { enum: ['test', 'live'] })
      .notNull()
      .default('test'),
    // The partner's id for the transfer and its idempotency key.
    transferId: text('transfer_id').notNull(),
    provider: text('provider', { enum: ['sfox', 'qi'] }).notNull(),
    status: text('status').notNull(),
    providerStatus: text('provider_status'),
    providerReference: text('provider_reference'),
    // SHA-256 of the normalized create request: a replay must match it.
    requestHash: text('request_hash').notNull(),
    details: text('details', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    metadata: text('metadata', { mode: 'json' }).$type<Record<string, string>>(),
    // Provider-specific bookkeeping that is not part of the resource (e.g. QI request_control_key).
    providerState: text('provider_state', { mode: 'json' }).$type<Record<string, unknown>>(),
    // Set while a request owns the transfer's provider call (a create; a QI confirm): a replay, or a
    // gateway-side cancel, waits for it.
    leaseUntil: integer('lease_until'),
    verificationChannel: text('verification_channel'),
    codeSentAt: integer('code_sent_at'),
    codeExpiresAt: integer('code_expires_at'),
    resendsUsed: integer('resends_used').notNull().default(0),
    // Limits are copied from the partner at creation so every check is one self-contained UPDATE.
    resendLimit: integer('resend_limit').notNull(),
    resendCooldownMs: integer('resend_cooldown_ms').notNull(),
    attemptsRemaining: integer('attempts_remaining'),
    // The confirm attempts this transfer gets once a code is sent (copied from the partner's limit).
    confirmLimit: integer('confirm_limit'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    // Events of one transfer are numbered from 1 so receivers can order them.
    sequence: integer('sequence').notNull().default(0),
    // When a transfer still pending verification expires (PENDING_TTL after creation).
    expiresAt: integer('expires_at'),
    // Last time the reconciler asked the provider about it; the least recently checked go first.
    reconciledAt: integer('reconciled_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('transfers_partner_mode_transfer_unique').on(t.partnerId, t.mode, t.transferId),
    index('transfers_partner_mode_id_idx').on(t.partnerId, t.mode, t.id),
    index('transfers_status_idx').on(t.status, t.provider),
    index('transfers_reconcile_idx').on(t.provider, t.status, t.reconciledAt),
    index('transfers_expiry_idx').on(t.status, t.expiresAt),
    index('transfers_provider_reference_idx').on(t.provider, t.providerReference),
  ],
)

export const events = sqliteTable(
  'events',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    // Test and live never touch each other: every query of an owned row names the mode too.
    mode: text('mode', { enum: ['test', 'live'] })
      .notNull()
      .default('test'),
    // Null for a test event (`transfer.test`), which is about no transfer.
    transferPk: text('transfer_pk').references(() => transfers.id),
    transferId: text('transfer_id').notNull(),
    type: text('type').notNull(),
    sequence: integer('sequence').notNull(),
    // The event body as delivered: { object: <transfer>, previous_status }.
    data: text('data').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('events_partner_mode_id_idx').on(t.partnerId, t.mode, t.id),
    index('events_partner_transfer_idx').on(t.partnerId, t.transferId, t.sequence),
    // Retention finds old events by age each cron run without scanning the table.
    index('events_created_at_idx').on(t.createdAt),
  ],
)

export type Partner = typeof partners.$inferSelect
export type ApiKey = typeof apiKeys.$inferSelect
export type ProviderConnection = typeof providerConnections.$inferSelect
export type Transfer = typeof transfers.$inferSelect
export type NewTransfer = typeof transfers.$inferInsert
export type Event = typeof events.$inferSelect

export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    // Test and live never touch each other: every query of an owned row names the mode too.
    mode: text('mode', { enum: ['test', 'live'] })
      .notNull()
      .default('test'),
    url: text('url').notNull(),
    description: text('description'),
    // JSON array of event types; null means every event.
    eventTypes: text('event_types', { mode: 'json' }).$type<string[] | null>(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    disabledReason: text('disabled_reason'),
    disabledAt: integer('disabled_at'),
    // AES-GCM ciphertexts of the signing secrets (see src/lib/crypto.ts); the previous one signs too
    // until previous_secret_expires_at, so receivers can roll over.
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: integer('previous_secret_expires_at'),
    // Start of the current run of failed attempts; an endpoint failing for too long is disabled.
    failingSince: integer('failing_since'),
    deletedAt: integer('deleted_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('webhook_endpoints_partner_mode_idx').on(t.partnerId, t.mode, t.id)],
)

export const deliveries = sqliteTable(
  'deliveries',
  {
    id: text('id').primaryKey(),
    eventId: text('event_id')
      .notNull()
      .references(() => events.id),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id),
    partnerId: text('partner_id').notNull(),
    // pending → delivered, or failed (gave up, or the endpoint was disabled/removed)
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
    // While a consumer holds the delivery (an attempt in flight), nobody else sends it.
    lockedUntil: integer('locked_until'),
    // When a queue message for the delivery is due (sent, or delayed until then); a claim clears it.
    // The sweeper leaves a delivery with a recent one alone instead of enqueueing it every minute.
    enqueuedAt: integer('enqueued_at'),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: integer('delivered_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('deliveries_event_endpoint_unique').on(t.eventId, t.endpointId),
    index('deliveries_due_idx').on(t.status, t.nextAttemptAt),
    index('deliveries_endpoint_idx').on(t.endpointId, t.status, t.createdAt),
  ],
)

export const deliveryAttempts = sqliteTable(
  'delivery_attempts',
  {
    id: text('id').primaryKey(),
    deliveryId: text('delivery_id')
      .notNull()
      .references(() => deliveries.id),
    attempt: integer('attempt').notNull(),
    startedAt: integer('started_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    error: text('error'),
    // The first 1 KiB of the receiver's answer, for the partner's debugging.
    responseExcerpt: text('response_excerpt'),
  },
  (t) => [index('delivery_attempts_delivery_idx').on(t.deliveryId, t.attempt)],
)

export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect
export type Delivery = typeof deliveries.$inferSelect
export type DeliveryAttempt = typeof deliveryAttempts.$inferSelect

export const documentSubmissions = sqliteTable(
  'document_submissions',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    // Test and live never touch each other: every query of an owned row names the mode too.
    mode: text('mode', { enum: ['test', 'live'] })
      .notNull()
      .default('test'),
    provider: text('provider', { enum: ['sfox'] }).notNull(),
    userId: text('user_id').notNull(),
    ddqId: text('ddq_id'),
    // The partner's Idempotency-Key; released (null) when the provider refuses the upload.
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash').notNull(),
    // submitting → submitted | rejected (the provider refused) | failed (no answer; retry)
    status: text('status', { enum: ['submitting', 'submitted', 'rejected', 'failed'] }).notNull(),
    // Names, document types, content types, sizes and SHA-256 digests; never the contents.
    files: text('files', { mode: 'json' }).$type<SubmittedFile[]>().notNull(),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    leaseUntil: integer('lease_until'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('document_submissions_mode_idempotency_unique').on(t.partnerId, t.mode, t.idempotencyKey),
    index('document_submissions_mode_user_idx').on(t.partnerId, t.mode, t.userId, t.id),
  ],
)

export type SubmittedFile = {
  name: string
  type: 'ID' | 'PoR'
  content_type: 'image/jpeg' | 'image/png' | 'application/pdf'
  size: number
  sha256: string
}
export type DocumentSubmission = typeof documentSubmissions.$inferSelect

/**
 * The test-mode simulator Worker's providers (sandbox/simulator): one partner's simulated sFOX account or QI
 * integration as one JSON document. `version` is the optimistic lock of every save (concurrent requests for
 * the same partner retry instead of overwriting each other). Not tied to `partners`: only the simulator reads it.
 */
export const simulatorState = sqliteTable(
  'simulator_state',
  {
    partnerId: text('partner_id').notNull(),
    provider: text('provider', { enum: ['sfox', 'qi'] }).notNull(),
    state: text('state').notNull(),
    version: integer('version').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.partnerId, t.provider] })],
)

/**
 * A partner portal session: first a single-use login link (only its keyed hash kept), then, once opened,
 * the browser session its cookie names (again only a keyed hash). One partner, one mode.
 */
export const portalSessions = sqliteTable(
  'portal_sessions',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    mode: text('mode', { enum: ['test', 'live'] }).notNull(),
    loginHash: text('login_hash').notNull(),
    loginExpiresAt: integer('login_expires_at').notNull(),
    sessionHash: text('session_hash'),
    returnUrl: text('return_url'),
    createdAt: integer('created_at').notNull(),
    usedAt: integer('used_at'),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [
    uniqueIndex('portal_sessions_login_unique').on(t.loginHash),
    uniqueIndex('portal_sessions_session_unique').on(t.sessionHash),
    index('portal_sessions_partner_idx').on(t.partnerId, t.mode),
  ],
)

export type PortalSession = typeof portalSessions.$inferSelect

/**
 * Who did what, to which object, from where, and how it ended: one row per audited request (admin
 * writes, key and endpoint changes, portal sign-ins, money actions). Written in the same batch as
 * each change the request makes (its outcome `pending` until the answer completes it), so no change
 * exists without its entry. No foreign keys: a refused request may name a partner that does not exist.
 * Never holds codes, secrets, credentials, request bodies or document contents.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id'),
    // The mode of the key or portal session that acted; null for the operator (admin token).
    mode: text('mode', { enum: ['test', 'live'] }),
    actorType: text('actor_type', { enum: ['admin', 'api_key', 'portal_session'] }).notNull(),
    // The admin token's keyed fingerprint, the API key's id or the portal session's id.
    actorId: text('actor_id').notNull(),
    // What people recognise: the API key's prefix, or which admin token (current / next).
    actorLabel: text('actor_label'),
    action: text('action').notNull(),
    objectType: text('object_type').notNull(),
    objectId: text('object_id'),
    outcome: text('outcome', { enum: ['pending', 'succeeded', 'refused', 'failed'] }).notNull(),
    status: integer('status'),
    problemCode: text('problem_code'),
    clientAddress: text('client_address'),
    requestId: text('request_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('audit_log_partner_idx').on(t.partnerId, t.id), index('audit_log_created_idx').on(t.createdAt)],
)

export type AuditEntry = typeof auditLog.$inferSelect

/** Each cron job's last run, success and failure (written at the end of every scheduled run), for /admin/health. */
export const cronJobs = sqliteTable('cron_jobs', {
  job: text('job').primaryKey(),
  lastRunAt: integer('last_run_at').notNull(),
  lastSuccessAt: integer('last_success_at'),
  lastFailureAt: integer('last_failure_at'),
  lastError: text('last_error'),
})

/**
 * Provider calls and their failures per provider and minute, counted in each isolate and added here a
 * few times a minute: the error rate /admin/health reports. Failures are the provider's (outage, time-out,
 * rate limit, refused credentials), not refusals of the request (a wrong code, a closed transfer).
 */
export const providerCallStats = sqliteTable(
  'provider_call_stats',
  {
    provider: text('provider').notNull(),
    minute: integer('minute').notNull(),
    calls: integer('calls').notNull(),
    failures: integer('failures').notNull(),
    lastFailureKind: text('last_failure_kind'),
  },
  (t) => [primaryKey({ columns: [t.provider, t.minute] })],
)
