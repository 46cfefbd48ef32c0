// Examples shown in the OpenAPI document. Tests check each one against the schema it illustrates.

const transfer = {
  object: 'transfer',
  id: 'order-1234',
  livemode: false,
  provider: 'sfox',
  status: 'pending_verification',
  provider_status: 'PENDING',
  provider_reference: 'tr_01jdq1m3v0k6y8x9w2z4c5b7n8',
  sfox: {
    user_id: 'user-42',
    type: 'PAYMENT',
    purpose: 'GOOD',
    currency: 'eth',
    quantity: '0.1',
    rate: '2000',
    description: 'Gift card',
  },
  verification: {
    required: true,
    channel: 'email',
    code_sent_at: '2026-11-21T10:15:30.000Z',
    code_expires_at: null,
    expires_at: '2026-11-22T10:15:30.000Z',
    resends_used: 0,
    resends_remaining: 3,
    next_resend_at: '2026-11-21T10:16:30.000Z',
    attempts_remaining: 5,
  },
  failure: null,
  metadata: { order_id: 'ord_1234' },
  created_at: '2026-11-21T10:15:29.871Z',
  updated_at: '2026-11-21T10:15:30.000Z',
} as const

const event = {
  id: 'evt_01jdq1m3w2a7b8c9d0e1f2g3h4',
  object: 'event',
  livemode: false,
  type: 'transfer.completed',
  created_at: '2026-11-21T10:16:02.114Z',
  transfer_id: 'order-1234',
  sequence: 2,
  data: {
    object: {
      ...transfer,
      status: 'completed',
      provider_status: 'COMPLETE',
      verification: {
        ...transfer.verification,
        expires_at: null,
        resends_remaining: 0,
        next_resend_at: null,
        attempts_remaining: 4,
      },
      updated_at: '2026-11-21T10:16:02.114Z',
    },
    previous_status: 'pending_verification',
  },
} as const

export const EXAMPLES = {
  createSfox: {
    transfer_id: 'order-1234',
    provider: 'sfox',
    sfox: {
      user_id: 'user-42',
      type: 'PAYMENT',
      purpose: 'GOOD',
      currency: 'ETH',
      quantity: '0.1',
      rate: '2000',
      description: 'Gift card',
    },
    metadata: { order_id: 'ord_1234' },
  },
  createQi: {
    transfer_id: 'ted-5678',
    provider: 'qi',
    qi: {
      account_key: '0c3d2a3e-c121-464e-b5a4-8e69e0c17bbd',
      amount: '150.25',
      target_account: {
        account_branch: '0001',
        account_digit: '6',
        account_number: '78340',
        owner_document_number: '32402502000135',
        owner_name: 'QI Tech',
        account_type: 'checking_account',
        ispb: '12345678',
      },
      approver_document_number: '98765432100',
      contact_type: 'sms',
    },
  },
  transfer,
  event,
  eventWithDeliveries: {
    ...event,
    deliveries: [
      {
        id: 'dlv_5f0e8c2b9a7d4e1f3c6b8a9d0e',
        endpoint_id: 'we_01jdq1k8z3y5x7w9v1u3t5s7r9',
        status: 'delivered',
        attempts: [
          {
            attempt: 1,
            at: '2026-11-21T10:16:02.300Z',
            status_code: 503,
            duration_ms: 41,
            error: 'HTTP 503',
            response: 'upstream busy',
          },
          {
            attempt: 2,
            at: '2026-11-21T10:16:07.412Z',
            status_code: 200,
            duration_ms: 18,
            error: null,
            response: 'ok',
          },
        ],
        next_attempt_at: null,
        last_error: null,
        delivered_at: '2026-11-21T10:16:07.430Z',
      },
    ],
  },
  createEndpoint: {
    url: 'https://partner.example.com/hooks/transfers',
    event_types: ['transfer.completed', 'transfer.failed'],
    description: 'Order service',
  },
}
