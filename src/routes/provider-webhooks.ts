import { createRoute, z } from '@hono/zod-openapi'
import { createRouter } from './router'
import { problemResponse } from '../schemas/common'
import { json } from './describe'
import { receiveQiWebhook } from '../transfers/qi-webhooks'

const Received = z
  .object({ received: z.literal(true), applied: z.boolean(), transfer_status: z.string() })
  .openapi('ProviderWebhookReceipt')

const qi = createRoute({
  operationId: 'receiveQiWebhook',
  method: 'post',
  path: '/qi/webhooks',
  tags: ['Provider webhooks'],
  summary: 'QI Tech TED status webhooks (baas.ted.outgoing_ted)',
  security: [{ QiSignature: [] }],
  description:
    "Verified with the partner's QI public key: ES512 AUTHORIZATION JWT over {payload_md5, timestamp, method, uri}, " +
    'API-CLIENT-KEY, body MD5 and a 5-minute timestamp window. Not for partners.',
  responses: {
    200: json(Received, 'Verified and applied (or ignored as late or duplicate).'),
    400: problemResponse('Not a QI webhook.'),
    401: problemResponse(
      'Not verifiable (`webhook_signature_invalid`): the signature failed or the TED is unknown (the same answer either way). A known TED is re-fetched from QI.',
    ),
  },
})

export const providerWebhooksRouter = createRouter().openapi(qi, async (c) => {
  const { applied, transfer } = await receiveQiWebhook(c.var.services, {
    method: c.req.method,
    path: c.req.path,
    headers: c.req.raw.headers,
    body: await c.req.text(),
  })
  return c.json({ received: true as const, applied, transfer_status: transfer.status }, 200)
})
