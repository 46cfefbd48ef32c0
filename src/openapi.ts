import { type OpenAPIHono, z } from '@hono/zod-openapi'
import { PROBLEMS } from './lib/problem'
import type { AppEnv } from './middleware/app-env'
import { EVENT_TYPES, EventResource, TEST_EVENT_TYPE, TEST_TRANSFER_ID } from './schemas/callbacks'

const description = `
One API for partners moving money through **sFOX** (crypto transfers confirmed by an emailed OTP, KYC
documents) and **QI Tech** (Brazilian TEDs approved by an SMS/email 2FA token).

- **Authentication**: \`Authorization: Bearer tgw_test_…\` (or \`tgw_live_…\`). Admin routes take the
  operator's \`ADMIN_TOKEN\`.
- **Idempotency**: \`transfer_id\` is yours and is the idempotency key of \`POST /v1/transfers\`; document
  uploads take an \`Idempotency-Key\` header. A replay returns the first result.
- **Errors** are RFC 9457 \`application/problem+json\` with a stable \`code\`:
${Object.entries(PROBLEMS)
  .map(([code, [status, title]]) => `  \`${code}\` (${status}, ${title})`)
  .join(',\n')}.
- **Lists** are newest first: \`limit\` (1–100) and \`starting_after\` (the last id of the previous page).
- **Rate limits**: per partner, \`RateLimit-Limit\` / \`RateLimit-Remaining\` / \`RateLimit-Reset\` on every
  answer; over the limit, 429 \`rate_limited\` with \`Retry-After\`.
- **Callbacks**: register receivers at \`/v1/webhook-endpoints\`; each event is POSTed there, signed the
  Standard Webhooks way (\`webhook-id\`, \`webhook-timestamp\`, \`webhook-signature\`), at least once, in the
  shape shown under *Webhooks*. Verify with the \`standardwebhooks\` or \`svix\` libraries.
`.trim()

const callbackHeaders = z.object({
  'webhook-id': z.string().openapi({ description: 'The event id; the same on every retry: deduplicate on it.' }),
  'webhook-timestamp': z.string().openapi({ description: 'Unix seconds when this attempt was signed.' }),
  'webhook-signature': z.string().openapi({
    description:
      'Space-separated `v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>`; two during a secret rotation.',
  }),
})

/** The document (from the same zod schemas that validate requests), its reference page, and callbacks. */
export const describeApi = (app: OpenAPIHono<AppEnv>) => {
  const registry = app.openAPIRegistry
  registry.registerComponent('securitySchemes', 'ApiKey', {
    type: 'http',
    scheme: 'bearer',
    description:
      'Partner API key, `tgw_test_…` or `tgw_live_…`, issued by an operator and shown once. A `read_only` key may call GET routes only (any other method is 403 `key_not_permitted`); a partner with an `ip_allowlist` is served only from those addresses (`CF-Connecting-IP`; else 403 `ip_not_allowed`).',
  })
  registry.registerComponent('securitySchemes', 'AdminToken', {
    type: 'http',
    scheme: 'bearer',
    description:
      "The deployment's ADMIN_TOKEN secret, or ADMIN_TOKEN_NEXT while it is being rotated; operators only. Each call's log line names the token used by a fingerprint, never the token.",
  })
  registry.registerComponent('securitySchemes', 'QiSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'AUTHORIZATION',
    description:
      "QI's ES512 JWT over {payload_md5, timestamp, method, uri}, verified with the partner's QI public key; with API-CLIENT-KEY.",
  })
  registry.registerComponent('securitySchemes', 'WebhookSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'webhook-signature',
    description: "Standard Webhooks HMAC-SHA256 with the endpoint's whsec_ secret (verify it; then trust the body).",
  })
  for (const type of EVENT_TYPES) {
    registry.registerWebhook({
      method: 'post',
      path: type,
      operationId: `on_${type.replace('.', '_')}`,
      security: [{ WebhookSignature: [] }],
      summary: `Callback: ${type}`,
      description: `${
        type === TEST_EVENT_TYPE
          ? `Sent only on request (\`POST /v1/webhook-endpoints/{id}/test\`), only to that endpoint, whatever it subscribes to: \`data.object\` is a sample transfer (\`id\` \`${TEST_TRANSFER_ID}\`, metadata \`{"test": "true"}\`), \`previous_status\` null; no transfer exists behind it.`
          : `Sent to every enabled endpoint subscribed to \`${type}\` (or to all events).`
      } Answer any 2xx within 15 s; otherwise it is retried (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, ±20 %). 410 Gone disables the endpoint.`,
      request: { headers: callbackHeaders, body: { content: { 'application/json': { schema: EventResource } } } },
      responses: {
        200: { description: 'Any 2xx acknowledges.' },
        410: { description: 'Gone: the endpoint is disabled.' },
      },
    })
  }

  app.doc31('/openapi.json', (c) => ({
    openapi: '3.1.0',
    info: {
      title: 'transfer-gateway',
      version: '1.0.0',
      description,
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: new URL(c.req.url).origin, description: 'This deployment' }],
    tags: [
      { name: 'Transfers', description: 'sFOX transfers and QI TEDs, with their verification codes.' },
      {
        name: 'Test mode',
        description: "Test keys only: the built-in simulator's codes and a transfer's provider-side outcome.",
      },
      { name: 'Webhook endpoints', description: 'Where callbacks go.' },
      { name: 'Portal', description: "Login links to the partner portal, the gateway's pages for operations teams." },
      { name: 'Events', description: 'Every status change, as delivered to endpoints.' },
      {
        name: 'Audit log',
        description:
          'Who did what on an account: money actions with their outcomes, key and endpoint changes, sign-ins.',
      },
      { name: 'Documents', description: 'KYC documents for sFOX.' },
      { name: 'Admin', description: 'Partners, keys and provider connections (operators).' },
      { name: 'Provider webhooks', description: 'Status pushed by providers (not for partners).' },
      { name: 'Operations', description: 'Health.' },
    ],
  }))
}

/**
 * Routes that describe the API rather than being part of it. The reference page that reads it, /docs,
 * is a static asset (assets/build.ts), served by Cloudflare before the Worker runs.
 */
export const DOCUMENTATION_ROUTES = ['/openapi.json']
