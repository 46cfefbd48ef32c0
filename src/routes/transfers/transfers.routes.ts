import { createRoute, z } from '@hono/zod-openapi'
import { problemResponse } from '../../schemas/common'
import {
  ConfirmBody,
  CreateTransferBody,
  ListTransfersQuery,
  ResendBody,
  TransferList,
  TransferResource,
} from '../../schemas/transfers'
import { json, jsonBody, partnerSecurity } from '../describe'

const security = partnerSecurity
const transferResponse = (description: string) => json(TransferResource, description)
const params = z.object({
  transfer_id: z.string().openapi({ param: { name: 'transfer_id', in: 'path' }, example: 'order-1234' }),
})
const common = {
  401: problemResponse('Missing, unknown, revoked or expired API key (`unauthorized`).'),
  422: problemResponse('Invalid request (`invalid_request`, every failing field listed).'),
}
const upstream = {
  502: problemResponse(
    'The provider failed or refused our credentials (`provider_unavailable`, `provider_authentication_failed`).',
  ),
  503: problemResponse('The provider is rate limiting (`provider_rate_limited`).'),
  504: problemResponse('The provider did not answer in time (`provider_timeout`).'),
}
const notFound = { 404: problemResponse('No such transfer for this partner (`transfer_not_found`).') }

export const create = createRoute({
  operationId: 'createTransfer',
  method: 'post',
  path: '/',
  tags: ['Transfers'],
  summary: 'Create a transfer',
  description:
    '`transfer_id` is the idempotency key: a replay with the same body returns the stored transfer (200); ' +
    'with another body it is `idempotency_key_reused` (422); while the first request is still running, ' +
    '`transfer_in_flight` (409). After a provider outage (502/504) the transfer is kept in `submitting` ' +
    'and replaying the same request finishes it.',
  security,
  request: jsonBody(CreateTransferBody),
  responses: {
    201: transferResponse('Created at the provider.'),
    200: transferResponse('A replay: the transfer as stored.'),
    ...common,
    409: problemResponse('The first request with this transfer_id is still in flight (`transfer_in_flight`).'),
    ...upstream,
  },
})

export const list = createRoute({
  operationId: 'listTransfers',
  method: 'get',
  path: '/',
  tags: ['Transfers'],
  summary: 'List transfers, newest first',
  security,
  request: { query: ListTransfersQuery },
  responses: { 200: json(TransferList, 'A page of transfers.'), ...common },
})

export const get = createRoute({
  operationId: 'getTransfer',
  method: 'get',
  path: '/{transfer_id}',
  tags: ['Transfers'],
  summary: 'Retrieve a transfer',
  security,
  request: { params },
  responses: { 200: transferResponse('The transfer.'), ...common, ...notFound },
})

export const confirm = createRoute({
  operationId: 'confirmTransfer',
  method: 'post',
  path: '/{transfer_id}/confirm',
  tags: ['Transfers'],
  summary: "Confirm with the end user's code",
  description:
    'Forwards the code to the provider (never stored). Wrong code: `verification_code_invalid` with ' +
    '`attempts_remaining`; expired: `verification_code_expired`; none left: `verification_attempts_exhausted` ' +
    '(not forwarded); not pending: `transfer_not_pending_verification` (409).',
  security,
  request: { params, ...jsonBody(ConfirmBody) },
  responses: {
    200: transferResponse('Confirmed: the transfer as it now stands.'),
    ...common,
    ...notFound,
    409: problemResponse('Not pending verification.'),
    ...upstream,
  },
})

export const resend = createRoute({
  operationId: 'resendTransferCode',
  method: 'post',
  path: '/{transfer_id}/resend',
  tags: ['Transfers'],
  summary: 'Send a new code',
  description:
    'Limited per transfer (count and cooldown): over the limit, 429 `resend_limit_reached` or ' +
    '`resend_cooldown` with Retry-After, and the provider is not called. A send the provider refuses ' +
    'does not count.',
  security,
  request: { params, ...jsonBody(ResendBody, false) },
  responses: {
    200: transferResponse('A new code was sent.'),
    ...common,
    ...notFound,
    409: problemResponse('Not pending verification.'),
    429: problemResponse('`resend_limit_reached` or `resend_cooldown`; see Retry-After.'),
    ...upstream,
  },
})

export const cancel = createRoute({
  operationId: 'cancelTransfer',
  method: 'post',
  path: '/{transfer_id}/cancel',
  tags: ['Transfers'],
  summary: 'Cancel a transfer pending verification',
  description: 'Idempotent: canceling a canceled transfer returns it.',
  security,
  request: { params },
  responses: {
    200: transferResponse('Canceled.'),
    ...common,
    ...notFound,
    409: problemResponse('Not pending verification.'),
    ...upstream,
  },
})
