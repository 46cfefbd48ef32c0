import { z } from '@hono/zod-openapi'
import type { PortalSession } from '../../db/schema'
import { iso } from '../lib/time'
import { Timestamp } from './common'

export const CreatePortalSessionBody = z
  .object({
    return_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional()
      .openapi({ description: "Where the portal's Back link leads (your own dashboard)." }),
    ttl_seconds: z
      .int()
      .min(60)
      .max(3600)
      .optional()
      .openapi({ description: 'How long the link may be opened (default 600 s); the session it opens lasts 8 hours.' }),
  })
  .strict()
  .openapi('CreatePortalSession')

export const PortalSessionResource = z
  .object({
    object: z.literal('portal_session'),
    id: z.string(),
    livemode: z.boolean(),
    url: z.url().openapi({ description: 'Single-use login link; opening it starts the browser session.' }),
    expires_at: Timestamp.openapi({ description: 'The link stops working then if not opened.' }),
    return_url: z.string().nullable(),
  })
  .openapi('PortalSession')

export const PortalSessionsRevoked = z
  .object({ object: z.literal('portal_session_revocation'), revoked: z.int() })
  .openapi('PortalSessionsRevoked')

export const renderPortalSession = (row: PortalSession, origin: string, token: string) => ({
  object: 'portal_session' as const,
  id: row.id,
  livemode: row.mode === 'live',
  url: `${origin}/portal/login?token=${token}`,
  expires_at: iso(row.loginExpiresAt)!,
  return_url: row.returnUrl,
})
