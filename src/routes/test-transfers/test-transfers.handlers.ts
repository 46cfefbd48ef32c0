import { renderTestCode, renderTransfer } from '../../schemas/transfers'
import { readTestCode, settleTestTransfer } from '../../transfers/simulate'
import type { AppRouteHandler } from '../router'
import type * as routes from './test-transfers.routes'

export const code: AppRouteHandler<typeof routes.code> = async (c) => {
  const { transfer, code } = await readTestCode(c.get('services'), c.get('partner'), c.req.valid('param').transfer_id)
  return c.json(renderTestCode(transfer, code), 200)
}

export const settle: AppRouteHandler<typeof routes.settle> = async (c) => {
  const { transfer_id, outcome } = c.req.valid('param')
  return c.json(
    renderTransfer(await settleTestTransfer(c.get('services'), c.get('partner'), transfer_id, outcome)),
    200,
  )
}
