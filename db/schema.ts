import { index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

// The only table definitions of the project. Times are Unix milliseconds (integers), so limits and
// cooldowns are plain arithmetic inside conditional UPDATEs.

export const partners = sqliteTable('partners', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  // Per-partner overrides of the environment defaults; null means "use the default".
  resendLimit: integer('resend_limit'),
  resendCooldownSeconds: integer('resend_cooldown_seconds'),
  confirmAttempts: integer('confirm_attempts'),
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
    // First characters of the key, kept only so people can tell keys apart.
    prefix: text('prefix').notNull(),
    // HMAC-SHA256 of the whole key under API_KEY_SECRET; the key itself is never stored.
    hash: text('hash').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash_unique').on(t.hash), index('api_keys_partner_idx').on(t.partnerId)],
)

export const providerConnections = sqliteTable(
  'provider_connections',
  {
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
    provider: text('provider', { enum: ['sfox', 'qi'] }).notNull(),
    baseUrl: text('base_url').notNull(),
    // AES-GCM ciphertext of the provider credentials (see src/lib/crypto.ts); never returned.
    credentials: text('credentials').notNull(),
    // Non-secret settings, e.g. the QI account keys this partner may move money from.
    settings: text('settings', { mode: 'json' }).$type<Record<string, unknown>>().notNull().default({}),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('provider_connections_partner_provider_unique').on(t.partnerId, t.provider)],
)

export const transfers = sqliteTable(
  'transfers',
  {
    // Our id (time-ordered); it is also the id sent to sFOX, so it is unique across partners.
    id: text('id').primaryKey(),
    partnerId: text('partner_id')
      .notNull()
      .references(() => partners.id),
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
    // Set while a request owns the transfer's provider call; a replay meanwhile is a 409.
    leaseUntil: integer('lease_until'),
    verificationChannel: text('verification_channel'),
    codeSentAt: integer('code_sent_at'),
    codeExpiresAt: integer('code_expires_at'),
    resendsUsed: integer('resends_used').notNull().default(0),
    // Limits are copied from the partner at creation so every check is one self-contained UPDATE.
    resendLimit: integer('resend_limit').notNull(),
    resendCooldownMs: integer('resend_cooldown_ms').notNull(),
    attemptsRemaining: integer('attempts_remaining'),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    // Events of one transfer are numbered from 1 so receivers can order them.
    sequence: integer('sequence').notNull().default(0),
    // When a transfer still pending verification expires (PENDING_TTL after creation).
    expiresAt: integer('expires_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('transfers_partner_transfer_unique').on(t.partnerId, t.transferId),
    index('transfers_partner_id_idx').on(t.partnerId, t.id),
    index('transfers_status_idx').on(t.status, t.provider),
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
    transferPk: text('transfer_pk')
      .notNull()
      .references(() => transfers.id),
    transferId: text('transfer_id').notNull(),
    type: text('type').notNull(),
    sequence: integer('sequence').notNull(),
    // The event body as delivered: { object: <transfer>, previous_status }.
    data: text('data').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('events_partner_id_idx').on(t.partnerId, t.id),
    index('events_partner_transfer_idx').on(t.partnerId, t.transferId, t.sequence),
  ],
)

export type Partner = typeof partners.$inferSelect
export type ApiKey = typeof apiKeys.$inferSelect
export type ProviderConnection = typeof providerConnections.$inferSelect
export type Transfer = typeof transfers.$inferSelect
export type NewTransfer = typeof transfers.$inferInsert
export type Event = typeof events.$inferSelect
