import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

/** How the receiver answers one callback: a status (after `delayMs`), or never (`hang`: past any timeout). */
export type Behaviour = { status: number; delayMs?: number } | 'hang'

/** One callback as it arrived, verified with the `standardwebhooks` package (never the gateway's code). */
export type Arrival = {
  webhookId: string
  transferId: string
  type: string
  sequence: number
  /** Which trusted secrets verified it (a rotated endpoint signs with both during the grace). */
  verifiedWith: number
  /** What the receiver answered: a 2xx means the gateway was told it arrived. */
  answered: number | 'hang'
  at: number
}

/**
 * A partner's callback receiver for the soak: plain node:http, every callback verified against the
 * secrets it trusts, answers chosen per callback by `behave` (fail, hang, 410), and `down()`/`up()`
 * on the same port, so the gateway sees a receiver that goes away and comes back.
 */
export const startSoakReceiver = async (name: string) => {
  const arrivals: Arrival[] = []
  const secrets: string[] = []
  let behave: () => Behaviour = () => ({ status: 200 })
  let unverified = 0
  const hanging = new Set<ServerResponse>()

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      }
      let verifiedWith = 0
      for (const secret of secrets) {
        try {
          new Webhook(secret).verify(raw, headers)
          verifiedWith++
        } catch {
          // Not signed with this one.
        }
      }
      if (verifiedWith === 0) {
        unverified++
        res.writeHead(400).end('signature')
        return
      }
      const body = JSON.parse(raw) as { transfer_id?: string; type?: string; sequence?: number }
      const behaviour = behave()
      const arrival: Arrival = {
        webhookId: headers['webhook-id'],
        transferId: String(body.transfer_id),
        type: String(body.type),
        sequence: Number(body.sequence),
        verifiedWith,
        answered: behaviour === 'hang' ? 'hang' : behaviour.status,
        at: Date.now(),
      }
      arrivals.push(arrival)
      if (behaviour === 'hang') {
        // Never answered: the gateway's timeout ends it (or down() does).
        hanging.add(res)
        res.once('close', () => hanging.delete(res))
        return
      }
      const reply = () => res.writeHead(behaviour.status, { 'content-type': 'text/plain' }).end('ok')
      if (behaviour.delayMs) setTimeout(reply, behaviour.delayMs)
      else reply()
    })
  }

  const listenOn = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const server = createServer(handler)
      server.keepAliveTimeout = 5_000
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve(server))
    })
  let server: Server | null = await listenOn(0)
  const port = (server.address() as AddressInfo).port

  const stop = async () => {
    const closing = server
    server = null
    if (!closing) return
    for (const res of hanging) res.destroy()
    await new Promise<void>((resolve) => {
      closing.close(() => resolve())
      closing.closeAllConnections()
    })
  }

  return {
    name,
    url: `http://127.0.0.1:${port}/hooks/${name}`,
    arrivals,
    unverified: () => unverified,
    trust: (secret: string) => void secrets.push(secret),
    /** Answers from now on as `fn` says, per callback. */
    behave: (fn: () => Behaviour) => {
      behave = fn
    },
    isUp: () => server !== null,
    down: stop,
    up: async () => {
      if (!server) server = await listenOn(port)
    },
    close: stop,
  }
}

export type SoakReceiver = Awaited<ReturnType<typeof startSoakReceiver>>
