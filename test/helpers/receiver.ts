import { Hono } from 'hono'
import { Webhook } from 'standardwebhooks'
import { listen } from '../../sandbox/shared/serve'

export type Received = {
  id: string
  timestamp: string
  signature: string
  body: any
  /** Which of the registered secrets verified it (standardwebhooks library), or null. */
  verifiedWith: string[]
  at: number
}

type Reply = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }

/**
 * A partner's receiver: a real local HTTP server that verifies every callback with the
 * `standardwebhooks` package (never with the gateway's own code) and answers as scripted.
 */
export const startReceiver = async () => {
  const received: Received[] = []
  const secrets = new Set<string>()
  let script: Reply[] = []
  let fallback: Reply = { status: 200, body: 'ok' }

  const app = new Hono()
  app.post('*', async (c) => {
    const raw = await c.req.text()
    const headers = {
      'webhook-id': c.req.header('webhook-id') ?? '',
      'webhook-timestamp': c.req.header('webhook-timestamp') ?? '',
      'webhook-signature': c.req.header('webhook-signature') ?? '',
    }
    const verifiedWith = [...secrets].filter((secret) => {
      try {
        new Webhook(secret).verify(raw, headers)
        return true
      } catch {
        return false
      }
    })
    received.push({
      id: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      body: JSON.parse(raw),
      verifiedWith,
      at: Date.now(),
    })
    const reply = script.shift() ?? fallback
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs))
    return c.body(reply.body ?? '', reply.status as 200, reply.headers)
  })

  let server = await listen(app)
  const port = server.port
  return {
    url: `${server.url}/hooks`,
    received,
    /** Only callbacks that verified with a registered secret. */
    verified: () => received.filter((r) => r.verifiedWith.length > 0),
    trust: (secret: string) => secrets.add(secret),
    distrust: (secret: string) => secrets.delete(secret),
    /** The next answers, in order; after them, `fallback`. */
    reply: (...replies: Reply[]) => {
      script = replies
    },
    always: (reply: Reply) => {
      fallback = reply
    },
    down: () => server.close(),
    up: async () => {
      server = await listen(app, port)
    },
    close: () => server.close(),
  }
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>
