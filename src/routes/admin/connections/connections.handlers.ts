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
import type { Mode } from '../../../schemas/common'
import { renderConnection } from '../../../schemas/partners'
import type { Owner, Services } from '../../../services'
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
const noConnection = (owner: Owner, provider: ProviderName) =>
  new Problem('connection_not_found', { detail: `Partner "${owner.id}" has no ${owner.mode} ${provider} connection.` })

const checkAfterPut = async (services: Services, owner: Owner, provider: ProviderName) => {
  try {
    const { stored } = await checkConnection(services, owner, provider)
    if (stored) return stored
  } catch (error) {
    // The connection is stored either way; `last_check` stays null and POST …/check tells more.
    log.warn('connection check after PUT failed', { partner_id: owner.id, provider, error: describeError(error) })
  }
  const stored = await findConnection(services.db, owner, provider)
  // Deleted by another admin call meanwhile.
  if (!stored) throw noConnection(owner, provider)
  return stored
}

/** The connection a route names: its partner, in the mode of `?mode=` (required, so nothing lands in a mode by accident). */
const ownerOf = (c: { req: { valid: (target: 'param' | 'query') => Record<string, unknown> } }): Owner => ({
  id: c.req.valid('param').partner_id as string,
  mode: c.req.valid('query').mode as Mode,
})

export const check: AppRouteHandler<typeof routes.check> = async (c) => {
  const { check } = await checkConnection(c.get('services'), ownerOf(c), c.req.valid('param').provider)
  return c.json(check, 200)
}

/** Stores a connection (after the checks both providers share) and checks it before answering. */
const storeConnection = async (
  services: Services,
  owner: Owner,
  input: ConnectionInput,
  prepare: () => Promise<void> = async () => {},
) => {
  assertProviderUrl(services.settings, input.baseUrl)
  await getPartner(services.db, owner.id)
  await prepare()
  await upsertConnection(services.db, services.settings.ENCRYPTION_KEY, owner, input, services.now())
  return renderConnection(await checkAfterPut(services, owner, input.provider))
}

export const putSfox: AppRouteHandler<typeof routes.putSfox> = async (c) => {
  const input = c.req.valid('json')
  const stored = await storeConnection(c.get('services'), ownerOf(c), {
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
    c.get('services'),
    ownerOf(c),
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
  await getPartner(c.get('services').db, partnerId)
  const rows = await listConnections(c.get('services').db, partnerId, c.req.valid('query').mode)
  return c.json({ object: 'list' as const, data: rows.map(renderConnection), has_more: false }, 200)
}

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  const { provider } = c.req.valid('param')
  const owner = ownerOf(c)
  if (!(await deleteConnection(c.get('services').db, owner, provider))) throw noConnection(owner, provider)
  return c.body(null, 204)
}
