import { createRoute, z } from '@hono/zod-openapi'
import { problemResponse } from '../../schemas/common'
import { json } from '../describe'

const Received = z
  .object({ received: z.literal(true), applied: z.boolean(), transfer_status: z.string() })
  .openapi('ProviderWebhookReceipt')

const params = z.object({
  provider: z.string().openapi({
    param: { name: 'provider', in: 'path' },
    example: 'qi',
    description: 'The provider that pushes the webhook; today only `qi` (sFOX pushes none).',
  }),
})

export const receive = createRoute({
  operationId: 'receiveProviderWebhook',
  method: 'post',
  path: '/{provider}/webhooks',
  tags: ['Provider webhooks'],
  summary: 'Status webhooks pushed by providers (QI Tech: baas.ted.outgoing_ted)',
  security: [{ QiSignature: [] }],
  description:
    "Verified by the provider's adapter with the partner's credentials. QI: ES512 AUTHORIZATION JWT over " +
    "{payload_md5, timestamp, method, uri} with the partner's QI public key, API-CLIENT-KEY, body MD5 and a " +
    '5-minute timestamp window. Not for partners.',
  request: { params },
  responses: {
    200: json(Received, 'Verified and applied (or ignored as late or duplicate).'),
    400: problemResponse('Not a webhook of this provider.'),
    401: problemResponse(
      'Not verifiable (`webhook_signature_invalid`): the signature failed or the transfer is unknown (the same answer either way). A known transfer is re-fetched from the provider.',
    ),
    404: problemResponse('The provider pushes no webhooks (`not_found`).'),
  },
})
