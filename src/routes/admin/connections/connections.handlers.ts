import { describeError } from '../../../lib/errors'
import { log } from '../../../lib/log'
import { fieldProblem, Problem } from '../../../lib/problem'
import type { Settings } from '../../../lib/settings'
import { checkConnection } from '../../../partners/connection-checks'
import {
  type ConnectionInput,
  deleteConnection,
  findConnection,
  listConnections,
  upsertConnection,
} from '../../../partners/connections'
import { getPartner } from '../../../partners/partners'
import type { ProviderName } from '../../../providers/provider'
import { checkQiKeys } from '../../../providers/qi/keys'
import { renderConnection } from '../../../schemas/partners'
import type { Services } from '../../../services'
import type { AppRouteHandler } from '../../router'
import type { routes } from './connections.routes'

// Credentials go to this URL: in production only over TLS (local sandboxes are plain http).
const assertProviderUrl = (settings: Settings, url: string) => {
  if (settings.ENVIRONMENT === 'production' && new URL(url).protocol !== 'https:') {
    throw fieldProblem(
      'base_url',
      { code: 'https_required', message: 'must use https' },
      'Provider credentials are only sent over https in production.',
    )
  }
}

/**
 * Every stored connection is checked before the PUT answers, so the operator learns at once whether
 * the credentials work; the answer (and GET …/connections) carries the result as `last_check`.
 */
const checkAfterPut = async (services: Services, partnerId: string, provider: ProviderName) => {
  try {
    await checkConnection(services, partnerId, provider)
  } catch (error) {
    // The connection is stored either way; `last_check` stays null and POST …/check tells more.
    log.warn('connection check after PUT failed', { partner_id: partnerId, provider, error: describeError(error) })
  }
  const stored = await findConnection(services.db, partnerId, provider)
  // Deleted by another admin call meanwhile.
  if (!stored)
    throw new Problem('connection_not_found', { detail: `Partner "${partnerId}" has no ${provider} connection.` })
  return stored
}

export const check: AppRouteHandler<typeof routes.check> = async (c) => {
  const { partner_id, provider } = c.req.valid('param')
  return c.json(await checkConnection(c.var.services, partner_id, provider), 200)
}

/** Stores a connection (after the checks both providers share) and checks it before answering. */
const storeConnection = async (
  services: Services,
  partnerId: string,
  input: ConnectionInput,
  prepare: () => Promise<void> = async () => {},
) => {
  assertProviderUrl(services.settings, input.baseUrl)
  await getPartner(services.db, partnerId)
  await prepare()
  await upsertConnection(services.db, services.settings.ENCRYPTION_KEY, partnerId, input, services.now())
  return renderConnection(await checkAfterPut(services, partnerId, input.provider))
}

export const putSfox: AppRouteHandler<typeof routes.putSfox> = async (c) => {
  const input = c.req.valid('json')
  const stored = await storeConnection(c.var.services, c.req.valid('param').partner_id, {
    provider: 'sfox',
    baseUrl: input.base_url,
    credentials: { api_key: input.api_key },
  })
  return c.json(stored, 200)
}

export const putQi: AppRouteHandler<typeof routes.putQi> = async (c) => {
  const input = c.req.valid('json')
  const keys = await checkQiKeys(input.private_key_pem, input.qi_public_key_pem)
  const stored = await storeConnection(
    c.var.services,
    c.req.valid('param').partner_id,
    {
      provider: 'qi',
      baseUrl: input.base_url,
      credentials: {
        api_client_key: input.api_client_key,
        private_key_pem: keys.ok ? keys.privateKeyPem : '',
        qi_public_key_pem: input.qi_public_key_pem,
      },
      settings: { account_keys: input.account_keys, ...(input.webhook_uri ? { webhook_uri: input.webhook_uri } : {}) },
    },
    // Unusable keys are refused before anything is stored (after the partner is known to exist).
    async () => {
      if (keys.ok) return
      throw new Problem('invalid_request', {
        detail: `The keys are not usable: ${keys.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
        extensions: { errors: keys.errors.map((e) => ({ ...e, pointer: `/${e.field}`, code: 'invalid_key' })) },
      })
    },
  )
  return c.json(stored, 200)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const partnerId = c.req.valid('param').partner_id
  await getPartner(c.var.services.db, partnerId)
  const rows = await listConnections(c.var.services.db, partnerId)
  return c.json({ object: 'list' as const, data: rows.map(renderConnection), has_more: false }, 200)
}

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  const { partner_id, provider } = c.req.valid('param')
  if (!(await deleteConnection(c.var.services.db, partner_id, provider))) {
    throw new Problem('connection_not_found', { detail: `Partner "${partner_id}" has no ${provider} connection.` })
  }
  return c.body(null, 204)
}
