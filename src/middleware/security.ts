import { cors } from 'hono/cors'
import { createMiddleware } from 'hono/factory'
import { secureHeaders } from 'hono/secure-headers'
import type { AppEnv } from './app-env'

// An API answers data, never pages: nothing may be framed, embedded or run from it.
const apiHeaders = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  strictTransportSecurity: 'max-age=63072000; includeSubDomains',
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  crossOriginResourcePolicy: 'same-origin',
  crossOriginOpenerPolicy: 'same-origin',
})

// The partner portal: its own stylesheet and inline SVG, forms posting to itself, nothing else.
const portalHeaders = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", 'data:'],
    formAction: ["'self'"],
    baseUri: ["'none'"],
    frameAncestors: ["'none'"],
  },
  strictTransportSecurity: 'max-age=63072000; includeSubDomains',
  xFrameOptions: 'DENY',
  referrerPolicy: 'no-referrer',
  crossOriginResourcePolicy: 'same-origin',
  crossOriginOpenerPolicy: 'same-origin',
})

// (The reference page at /docs is a static asset: its headers are in assets/build.ts.)
export const securityHeaders = createMiddleware<AppEnv>((c, next) =>
  c.req.path === '/portal' || c.req.path.startsWith('/portal/') ? portalHeaders(c, next) : apiHeaders(c, next),
)

// Built once per distinct setting (an isolate sees one).
const corsByOrigins = new Map<string, ReturnType<typeof cors>>()

/**
 * Browsers may call /v1 only from the origins in CORS_ALLOWED_ORIGINS; with none configured no
 * CORS header is ever sent, so browsers refuse cross-origin calls.
 */
export const corsIfConfigured = createMiddleware<AppEnv>(async (c, next) => {
  const setting = c.get('services').settings.CORS_ALLOWED_ORIGINS.trim()
  if (!setting) return next()
  let middleware = corsByOrigins.get(setting)
  if (!middleware) {
    middleware = cors({
      origin: setting
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      allowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
      allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
      exposeHeaders: [
        'x-request-id',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
        'ratelimit-policy',
      ],
      maxAge: 600,
    })
    corsByOrigins.set(setting, middleware)
  }
  return middleware(c, next)
})
