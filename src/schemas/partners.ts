import { z } from '@hono/zod-openapi'
import type { ApiKey, Partner, ProviderConnection } from '../../db/schema'
import { iso } from '../lib/time'
import { ListQuery, listOf, ModeSchema, ProviderNameSchema, Timestamp } from './common'

const Limits = {
  resend_limit: z.number().int().min(0).max(20).nullable().optional().openapi({
    description: 'Resends allowed per transfer; null uses the deployment default (RESEND_LIMIT).',
  }),
  resend_cooldown_seconds: z.number().int().min(0).max(3600).nullable().optional().openapi({
    description: 'Seconds between two sends of a code; null uses RESEND_COOLDOWN_SECONDS.',
  }),
  confirm_attempts: z.number().int().min(1).max(20).nullable().optional().openapi({
    description: 'Confirm attempts per transfer; null uses CONFIRM_ATTEMPTS.',
  }),
  rate_limit: z.number().int().min(1).max(1_000_000).nullable().optional().openapi({
    description: 'API requests per RATE_LIMIT_WINDOW_SECONDS (10 s); null uses RATE_LIMIT (100).',
  }),
}

const IpAllowlist = z
  .array(z.string().max(64))
  .min(1)
  .max(100)
  .nullable()
  .optional()
  .openapi({
    description:
      "CIDR ranges (IPv4 and IPv6; a bare address is one host) the partner's API (`/v1/*`) and portal may be used from, as Cloudflare reports the client (`CF-Connecting-IP`); any other address is 403 `ip_not_allowed`. Stored normalised (host bits cleared, IPv6 compressed). null (the default) admits every address. A change takes effect within API_KEY_CACHE_SECONDS.",
    example: ['203.0.113.0/24', '2001:db8::/32'],
  })

export const CreatePartnerBody = z
  .object({ name: z.string().trim().min(1).max(200), ...Limits, ip_allowlist: IpAllowlist })
  .strict()
  .openapi('CreatePartner')

export const UpdatePartnerBody = z
  .object({ name: z.string().trim().min(1).max(200).optional(), ...Limits, ip_allowlist: IpAllowlist })
  .strict()
  .openapi('UpdatePartner')

export const PartnerResource = z
  .object({
    object: z.literal('partner'),
    id: z.string(),
    name: z.string(),
    resend_limit: z.number().int().nullable(),
    resend_cooldown_seconds: z.number().int().nullable(),
    confirm_attempts: z.number().int().nullable(),
    rate_limit: z.number().int().nullable(),
    ip_allowlist: z
      .array(z.string())
      .nullable()
      .openapi({ description: 'The normalised CIDR ranges calls may come from; null: any address.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi('Partner')

export const PartnerList = listOf(PartnerResource, 'PartnerList')
export const PartnerListQuery = ListQuery

/** What a key may do: `full`, every route; `read_only`, GET and HEAD only. */
export const KEY_ACCESS = ['full', 'read_only'] as const
export type KeyAccess = (typeof KEY_ACCESS)[number]

const KeyAccessSchema = z.enum(KEY_ACCESS).openapi({
  description:
    '`full`: every route. `read_only`: GET (and HEAD) routes only; any other method is 403 `key_not_permitted`, refused before the body is read or a provider is called. Rolling a key keeps its access.',
})

export const CreateApiKeyBody = z
  .object({
    mode: z.enum(['test', 'live']).default('test'),
    access: KeyAccessSchema.default('full'),
    expires_at: z.iso.datetime().optional().openapi({ description: 'Optional expiry; the key stops working then.' }),
  })
  .strict()
  .openapi('CreateApiKey')

export const ApiKeyResource = z
  .object({
    object: z.literal('api_key'),
    id: z.string(),
    partner_id: z.string(),
    mode: z.enum(['test', 'live']),
    access: KeyAccessSchema,
    prefix: z
      .string()
      .openapi({ description: 'The first characters of the key, to tell keys apart.', example: 'tgw_test_Ab3x' }),
    created_at: Timestamp,
    expires_at: Timestamp.nullable(),
    revoked_at: Timestamp.nullable(),
    last_used_at: Timestamp.nullable().openapi({
      description: 'When the key last authenticated a request, to the minute (written at most once a minute).',
    }),
  })
  .openapi('ApiKey')

export const CreatedApiKey = ApiKeyResource.extend({
  key: z.string().openapi({ description: 'The secret key. Shown only in this response; store it now.' }),
}).openapi('CreatedApiKey')

export const RollApiKeyBody = z
  .object({
    expires_in_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .optional()
      .openapi({
        description:
          'How long the old key keeps working (default 86400, 24 h; 0: it stops at once). Never later than it already expires.',
      }),
  })
  .strict()
  .openapi('RollApiKey')

export const RolledApiKey = CreatedApiKey.extend({
  previous_key: ApiKeyResource,
}).openapi('RolledApiKey')

export const ApiKeyList = listOf(ApiKeyResource, 'ApiKeyList')

const BaseUrl = z.url({ protocol: /^https?$/ }).openapi({ example: 'https://api.sfox.com' })

export const SfoxConnectionBody = z
  .object({
    api_key: z
      .string()
      .min(1)
      .max(512)
      .openapi({ description: "The partner's sFOX enterprise API key. Stored encrypted, never returned." }),
    base_url: BaseUrl,
  })
  .strict()
  .openapi('SfoxConnectionInput')

export const QiConnectionBody = z
  .object({
    api_client_key: z
      .uuid()
      .openapi({ description: 'The integration key QI issued (API-CLIENT-KEY). Stored encrypted.' }),
    private_key_pem: z.string().min(100).max(4096).openapi({
      description: "The partner's EC P-521 private key, PKCS#8 or SEC1 PEM. Stored encrypted, never returned.",
    }),
    qi_public_key_pem: z
      .string()
      .min(100)
      .max(4096)
      .openapi({ description: "QI's public key (SPKI PEM), to verify its webhooks and answers." }),
    base_url: BaseUrl.openapi({ example: 'https://api-auth.qitech.app' }),
    account_keys: z
      .array(z.uuid())
      .min(1)
      .max(100)
      .openapi({ description: 'The QI account keys this partner may move money from.' }),
    webhook_uri: z
      .string()
      .max(2048)
      .regex(/^(\/|https?:\/\/)\S*$/, 'a path (/…) or an http(s) URL')
      .optional()
      .openapi({
        description:
          "Where QI posts this partner's webhooks as QI signs it (a path or full URL), when a proxy or path prefix makes it differ from `/providers/qi/webhooks`.",
        example: '/edge/qi-hooks',
      }),
  })
  .strict()
  .openapi('QiConnectionInput')

const CheckItem = z.object({
  name: z.string().openapi({
    description:
      'reachable, authentication, transfer_permission (sFOX); reachable, clock_skew, authentication, answer_signature, signed_query, non_ascii_body (QI).',
  }),
  ok: z.boolean(),
  detail: z.string().openapi({ description: 'What was found and, when it failed, what to fix. Never a credential.' }),
  duration_ms: z.number().int(),
})

const CheckResult = {
  ok: z.boolean().openapi({ description: 'Every check passed.' }),
  checked_at: Timestamp,
  checks: z.array(CheckItem),
}

export const ConnectionCheckResource = z
  .object({
    object: z.literal('connection_check'),
    provider: ProviderNameSchema,
    mode: ModeSchema,
    livemode: z.boolean(),
    ...CheckResult,
  })
  .openapi('ConnectionCheck', {
    example: {
      object: 'connection_check',
      provider: 'qi',
      mode: 'live',
      livemode: true,
      ok: false,
      checked_at: '2026-12-04T15:00:00.000Z',
      checks: [
        { name: 'reachable', ok: true, detail: 'QI answered at https://api-auth.qitech.app.', duration_ms: 41 },
        { name: 'clock_skew', ok: true, detail: "QI's clock is within a second of ours.", duration_ms: 0 },
        {
          name: 'authentication',
          ok: false,
          detail:
            'QI answered HTTP 401 GDF000014: … Check that private_key_pem is the key whose public half QI registered for this api_client_key, and the api_client_key itself.',
          duration_ms: 63,
        },
      ],
    },
  })

export const ConnectionResource = z
  .object({
    object: z.literal('provider_connection'),
    mode: ModeSchema,
    livemode: z.boolean(),
    id: z.string(),
    partner_id: z.string(),
    provider: ProviderNameSchema,
    base_url: z.string(),
    settings: z.record(z.string(), z.unknown()),
    last_check: z
      .object(CheckResult)
      .nullable()
      .openapi({ description: 'The latest connection check (every PUT runs one); null if none could run.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi('ProviderConnection', { description: 'Credentials are stored encrypted and never returned.' })

export const ConnectionList = listOf(ConnectionResource, 'ProviderConnectionList')

export const renderPartner = (p: Partner) => ({
  object: 'partner' as const,
  id: p.id,
  name: p.name,
  resend_limit: p.resendLimit,
  resend_cooldown_seconds: p.resendCooldownSeconds,
  confirm_attempts: p.confirmAttempts,
  rate_limit: p.rateLimit,
  ip_allowlist: p.ipAllowlist ?? null,
  created_at: iso(p.createdAt)!,
  updated_at: iso(p.updatedAt)!,
})

export const renderApiKey = (k: ApiKey) => ({
  object: 'api_key' as const,
  id: k.id,
  partner_id: k.partnerId,
  mode: k.mode,
  access: k.access,
  prefix: k.prefix,
  created_at: iso(k.createdAt)!,
  expires_at: iso(k.expiresAt),
  revoked_at: iso(k.revokedAt),
  last_used_at: iso(k.lastUsedAt),
})

/** What admins see of a connection: never the credentials. */
export const renderConnection = (c: ProviderConnection) => ({
  object: 'provider_connection' as const,
  mode: c.mode,
  livemode: c.mode === 'live',
  id: c.id,
  partner_id: c.partnerId,
  provider: c.provider,
  base_url: c.baseUrl,
  settings: c.settings,
  last_check: c.lastCheck ?? null,
  created_at: iso(c.createdAt)!,
  updated_at: iso(c.updatedAt)!,
})
