import { and, eq } from 'drizzle-orm'
import { providerConnections, type StoredConnectionCheck } from '../../db/schema'
import { log } from '../lib/log'
import { Problem } from '../lib/problem'
import { iso } from '../lib/time'
import type { ProviderName } from '../providers/provider'
import type { Owner, Services } from '../services'
import { loadPartnerById } from './lookup'

const CHECK_TIMEOUT_MS = 3_000

/**
 * Checks a partner's connection to a provider with harmless authenticated calls (the adapter's
 * checkConnection), stores the result as the connection's `last_check` and any setting the check
 * learned (QI: which signed-uri form it accepts). Only if the connection is still the one checked:
 * a PUT meanwhile wins. Nothing secret is logged or stored: ids, check names and verdicts.
 */
export const checkConnection = async (services: Services, owner: Owner, provider: ProviderName) => {
  const partnerId = owner.id
  const partner = await loadPartnerById(services.db, partnerId, owner.mode, services.settings)
  if (!partner) throw new Problem('partner_not_found', { detail: `No partner with id "${partnerId}".` })
  const connection = partner.connections[provider]
  if (!connection) {
    throw new Problem('connection_not_found', {
      detail: `Partner "${partnerId}" has no ${owner.mode} ${provider} connection.`,
    })
  }
  // A check answers within seconds even against a silent host: each call gets at most CHECK_TIMEOUT_MS.
  const adapter = await services.providerFor(partner, provider, { timeoutMs: CHECK_TIMEOUT_MS })
  const outcome = await adapter.checkConnection()
  const result: StoredConnectionCheck = {
    ok: outcome.checks.every((check) => check.ok),
    checked_at: iso(services.now())!,
    checks: outcome.checks,
  }
  const [stored] = await services.db
    .update(providerConnections)
    .set({
      lastCheck: result,
      ...(outcome.learned ? { settings: { ...connection.settings, ...outcome.learned } } : {}),
    })
    .where(and(eq(providerConnections.id, connection.id), eq(providerConnections.credentials, connection.credentials)))
    .returning()
  log.info('connection check', {
    partner_id: partnerId,
    provider,
    ok: result.ok,
    failed: result.checks.filter((check) => !check.ok).map((check) => check.name),
  })
  return {
    check: {
      object: 'connection_check' as const,
      provider,
      mode: owner.mode,
      livemode: owner.mode === 'live',
      ...result,
    },
    /** The connection with this result, unless a PUT replaced it meanwhile. */
    stored,
  }
}
