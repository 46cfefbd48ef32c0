import { createRoute, z } from '@hono/zod-openapi'
import { SIMULATED_OUTCOMES } from '../../providers/provider'
import { problemResponse } from '../../schemas/common'
import { TestCodeResource, TransferResource } from '../../schemas/transfers'
import { json, partnerSecurity } from '../describe'

const params = z.object({
  transfer_id: z.string().openapi({ param: { name: 'transfer_id', in: 'path' }, example: 'order-1234' }),
})
const errors = {
  401: problemResponse('Missing, unknown, revoked or expired API key (`unauthorized`).'),
  404: problemResponse('No such test transfer, or a live key (`transfer_not_found`, `not_found`).'),
  409: problemResponse(
    'The transfer went to your own test connection, not the simulator (`not_simulated`), or is no longer pending (`transfer_not_pending_verification`).',
  ),
}

export const code = createRoute({
  operationId: 'readTestCode',
  method: 'get',
  path: '/{transfer_id}/code',
  tags: ['Test mode'],
  summary: "Read the code the simulator sent to a test transfer's end user",
  description:
    'Test keys only, for transfers the built-in simulator handles (no test connection for the provider). ' +
    'The code is the one the end user would have received by email or SMS; confirm with it as usual.',
  security: partnerSecurity,
  request: { params },
  responses: { 200: json(TestCodeResource, 'The live code.'), ...errors },
})

export const settle = createRoute({
  operationId: 'settleTestTransfer',
  method: 'post',
  path: '/{transfer_id}/{outcome}',
  tags: ['Test mode'],
  summary: "Drive a test transfer's outcome at the simulated provider",
  description:
    '`complete`, `fail` or `return` (QI only: sFOX never returns a transfer). The simulator moves the ' +
    'transfer, the gateway reads it as it reads any provider status, and the callbacks follow.',
  security: partnerSecurity,
  request: {
    params: params.extend({
      outcome: z.enum(SIMULATED_OUTCOMES).openapi({ param: { name: 'outcome', in: 'path' }, example: 'complete' }),
    }),
  },
  responses: {
    200: json(TransferResource, 'The transfer after the provider changed it.'),
    ...errors,
    409: problemResponse(
      'Not simulated (`not_simulated`), or an outcome the transfer cannot reach from where it is (`outcome_not_allowed`).',
    ),
    422: problemResponse('An outcome this provider does not have (`provider_rejected`).'),
  },
})
