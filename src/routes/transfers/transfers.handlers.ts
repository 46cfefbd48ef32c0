import { renderTransfer } from '../../schemas/transfers'
import { cancelTransfer } from '../../transfers/cancel'
import { confirmTransfer } from '../../transfers/confirm'
import { createTransfer } from '../../transfers/create'
import { transferNotFound } from '../../transfers/problems'
import { resendCode } from '../../transfers/resend'
import { findTransfer, listTransfers } from '../../transfers/store/read'
import { pageAfterKnownCursor } from '../cursor'
import type { AppRouteHandler } from '../router'
import type * as routes from './transfers.routes'

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  const body = c.req.valid('json')
  c.get('audit').about({ objectId: body.transfer_id })
  const { transfer, created } = await createTransfer(c.get('services'), c.get('partner'), body)
  return c.json(renderTransfer(transfer), created ? 201 : 200)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const query = c.req.valid('query')
  const { db } = c.get('services')
  const owner = c.get('partner')
  const { rows, hasMore } = await pageAfterKnownCursor(
    query.starting_after,
    async (id) => !!(await findTransfer(db, owner, id)),
    'transfer',
    () =>
      listTransfers(db, owner, {
        status: query.status,
        provider: query.provider,
        limit: query.limit,
        startingAfter: query.starting_after,
      }),
  )
  return c.json({ object: 'list' as const, data: rows.map(renderTransfer), has_more: hasMore }, 200)
}

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  const { transfer_id } = c.req.valid('param')
  const transfer = await findTransfer(c.get('services').db, c.get('partner'), transfer_id)
  if (!transfer) throw transferNotFound(transfer_id)
  return c.json(renderTransfer(transfer), 200)
}

export const confirm: AppRouteHandler<typeof routes.confirm> = async (c) => {
  const { transfer_id } = c.req.valid('param')
  const transfer = await confirmTransfer(c.get('services'), c.get('partner'), transfer_id, c.req.valid('json').code)
  return c.json(renderTransfer(transfer), 200)
}

export const resend: AppRouteHandler<typeof routes.resend> = async (c) => {
  const { transfer_id } = c.req.valid('param')
  const transfer = await resendCode(c.get('services'), c.get('partner'), transfer_id, c.req.valid('json').channel)
  return c.json(renderTransfer(transfer), 200)
}

export const cancel: AppRouteHandler<typeof routes.cancel> = async (c) => {
  const { transfer_id } = c.req.valid('param')
  const transfer = await cancelTransfer(c.get('services'), c.get('partner'), transfer_id)
  return c.json(renderTransfer(transfer), 200)
}
