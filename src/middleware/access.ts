import type { Context } from 'hono'
import { cidrMatcher } from '../lib/cidr'
import { Problem } from '../lib/problem'
import type { KeyAccess } from '../partners/key-format'
import type { AppEnv } from './app-env'

// What a caller may do once it is known: from where (the partner's IP allowlist) and which methods
// (the key's access). Both are refused before a route reads the body or touches any provider.

/** Where a partner's calls may come from: null admits every address. */
export type AddressCheck = ((address: string | null | undefined) => boolean) | null

/** Parsed once per lookup (and cached with it): the partner's allowlist as a matcher. */
export const addressCheckOf = (allowlist: readonly string[] | null): AddressCheck =>
  allowlist && allowlist.length > 0 ? cidrMatcher(allowlist) : null

/**
 * The client's address as Cloudflare reports it (CF-Connecting-IP, set by Cloudflare's edge; a
 * client's own copy of the header is overwritten there). Nothing else is trusted: not
 * X-Forwarded-For, not X-Real-IP.
 */
export const clientAddress = (c: Context<AppEnv>): string | null => c.req.header('cf-connecting-ip')?.trim() || null

/** 403 ip_not_allowed unless the partner has no allowlist or the client's address is inside it. */
export const requireAllowedAddress = (c: Context<AppEnv>, allows: AddressCheck) => {
  if (!allows) return
  const address = clientAddress(c)
  if (allows(address)) return
  throw new Problem('ip_not_allowed', {
    detail: address
      ? `Requests from ${address} are not allowed for this partner: it is outside the partner's IP allowlist.`
      : "The client's address is unknown, and this partner accepts requests only from the addresses on its IP allowlist.",
  })
}

const READ_METHODS = new Set(['GET', 'HEAD'])

/** 403 key_not_permitted for any method but GET and HEAD with a read-only key. */
export const requireKeyPermits = (c: Context<AppEnv>, access: KeyAccess) => {
  if (access === 'full' || READ_METHODS.has(c.req.method)) return
  throw new Problem('key_not_permitted', {
    detail: `This API key is read-only: it may only read (GET). ${c.req.method} ${c.req.path} needs a full-access key.`,
  })
}
