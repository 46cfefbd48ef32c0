import { fieldProblem } from '../../../lib/problem'
import { issueApiKey, listApiKeys, ROLL_GRACE_SECONDS, revokeApiKey, rollApiKey } from '../../../partners/api-keys'
import { renderApiKey } from '../../../schemas/partners'
import type { AppRouteHandler } from '../../router'
import type { routes } from './api-keys.routes'

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const { db, settings, now } = c.get('services')
  const input = c.req.valid('json')
  if (input.expires_at && Date.parse(input.expires_at) <= now()) {
    throw fieldProblem(
      'expires_at',
      { code: 'in_the_past', message: 'must be in the future' },
      'A key that expires in the past would never work.',
    )
  }
  const { row, key } = await issueApiKey(db, settings.API_KEY_SECRET, c.req.valid('param').partner_id, input, now())
  c.get('audit').about({ objectId: row.id })
  return c.json({ ...renderApiKey(row), key }, 201)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const rows = await listApiKeys(c.get('services').db, c.req.valid('param').partner_id)
  return c.json({ object: 'list' as const, data: rows.map(renderApiKey), has_more: false }, 200)
}

export const revoke: AppRouteHandler<typeof routes.revoke> = async (c) => {
  const { partner_id, key_id } = c.req.valid('param')
  const { db, now } = c.get('services')
  return c.json(renderApiKey(await revokeApiKey(db, { partnerId: partner_id }, key_id, now())), 200)
}

export const roll: AppRouteHandler<typeof routes.roll> = async (c) => {
  const { db, settings, now } = c.get('services')
  const { partner_id, key_id } = c.req.valid('param')
  const grace = c.req.valid('json')?.expires_in_seconds ?? ROLL_GRACE_SECONDS.default
  const rolled = await rollApiKey(db, settings.API_KEY_SECRET, { partnerId: partner_id }, key_id, grace, now())
  return c.json({ ...renderApiKey(rolled.row), key: rolled.key, previous_key: renderApiKey(rolled.previous) }, 201)
}
