import { Problem } from '../../lib/problem'
import { PROVIDERS, type ProviderName } from '../../providers/provider'
import { PROVIDER_MODULES } from '../../providers/registry'
import { receiveProviderWebhook } from '../../transfers/provider-webhooks'
import type { AppRouteHandler } from '../router'
import type * as routes from './provider-webhooks.routes'

const pushes = (name: string): name is ProviderName =>
  (PROVIDERS as readonly string[]).includes(name) && !!PROVIDER_MODULES[name as ProviderName].readWebhook

export const receive: AppRouteHandler<typeof routes.receive> = async (c) => {
  const { provider } = c.req.valid('param')
  // A provider that pushes nothing has no such route, exactly like an unknown path.
  if (!pushes(provider)) throw new Problem('not_found', { detail: `No route for ${c.req.method} ${c.req.path}.` })
  const { applied, transfer } = await receiveProviderWebhook(c.get('services'), provider, {
    method: c.req.method,
    path: c.req.path,
    url: c.req.url,
    headers: c.req.raw.headers,
    body: await c.req.text(),
  })
  return c.json({ received: true as const, applied, transfer_status: transfer.status }, 200)
}
