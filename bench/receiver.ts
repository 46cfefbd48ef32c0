import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Webhook } from 'standardwebhooks'

/**
 * One callback as it arrived: `at` is performance.now() when its body was complete; `body` is the raw
 * JSON (the limit run posts the gateway's own payloads again).
 */
export type Receipt = { webhookId: string; transferId: string; type: string; at: number; body: string }

// Verifying is not what the bench measures: one callback in this many is checked.
const VERIFY_EVERY = 25
const GONE_PATH = '/gone'

/**
 * A partner's receiver made to be fast: plain node:http, no framework, answers 200 "ok" as soon as
 * the body is in (after `delayMs`, when set). It notes each arrival by `webhook-id` and by
 * "transfer_id type" from the body, so the bench can match a status change to its event, and checks
 * a sample of signatures with the `standardwebhooks` package (never with the gateway's own code).
 */
export const startReceiver = async () => {
  const receipts: Receipt[] = []
  const byKey = new Map<string, Receipt>()
  const seenIds = new Set<string>()
  let duplicates = 0
  let delayMs = 0
  let webhook: Webhook | null = null
  const signatures = { checked: 0, verified: 0 }
  // Callbacks being received or answered at once: how many deliveries the gateway has in flight.
  let inFlight = 0
  let maxInFlight = 0
  let waiters: { done: () => boolean; resolve: () => void }[] = []

  const record = (req: IncomingMessage, raw: string) => {
    const at = performance.now()
    const webhookId = String(req.headers['webhook-id'] ?? '')
    if (seenIds.has(webhookId)) duplicates++
    seenIds.add(webhookId)
    const body = JSON.parse(raw) as { transfer_id?: string; type?: string }
    const receipt = { webhookId, transferId: String(body.transfer_id), type: String(body.type), at, body: raw }
    receipts.push(receipt)
    const key = `${receipt.transferId} ${receipt.type}`
    if (!byKey.has(key)) byKey.set(key, receipt)
    if (webhook && receipts.length % VERIFY_EVERY === 1) {
      signatures.checked++
      try {
        webhook.verify(raw, {
          'webhook-id': webhookId,
          'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
          'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
        })
        signatures.verified++
      } catch {
        // Counted as checked and not verified; the report shows both.
      }
    }
    if (waiters.length) waiters = waiters.filter((w) => (w.done() ? (w.resolve(), false) : true))
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // A receiver that is gone (the backlog run's endpoint before it is fixed): 410, nothing recorded.
    if (req.url?.endsWith(GONE_PATH)) {
      req.resume()
      req.on('end', () => res.writeHead(410).end())
      return
    }
    inFlight++
    if (inFlight > maxInFlight) maxInFlight = inFlight
    res.once('close', () => inFlight--)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      try {
        record(req, Buffer.concat(chunks).toString('utf8'))
      } catch {
        res.writeHead(400).end('bad body')
        return
      }
      const reply = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
      if (delayMs > 0) setTimeout(reply, delayMs)
      else reply()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo

  /** Resolves once `done()` holds (checked at each arrival); rejects after `timeoutMs`. */
  const until = (done: () => boolean, timeoutMs: number, what: () => string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve()
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== waiter)
        reject(new Error(`receiver: ${what()} within ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter = { done, resolve: () => (clearTimeout(timer), resolve()) }
      waiters.push(waiter)
    })

  return {
    url: `http://127.0.0.1:${port}/hooks`,
    /** Answers 410 Gone to every callback, recording none. */
    goneUrl: `http://127.0.0.1:${port}/hooks${GONE_PATH}`,
    /** Every arrival since the last reset, in order. */
    receipts: () => receipts,
    /** The first arrival of the event of this type for this transfer. */
    arrival: (transferId: string, type: string) => byKey.get(`${transferId} ${type}`),
    duplicates: () => duplicates,
    /** Callbacks received or being answered right now. */
    open: () => inFlight,
    /** The most callbacks that were open at the receiver at the same time since the last reset. */
    maxInFlight: () => maxInFlight,
    signatures: () => ({ ...signatures }),
    trust: (secret: string) => {
      webhook = new Webhook(secret)
    },
    setDelay: (ms: number) => {
      delayMs = ms
    },
    /** Forgets every arrival (between runs; the signing secret and the delay stay). */
    reset: () => {
      receipts.length = 0
      byKey.clear()
      seenIds.clear()
      duplicates = 0
      maxInFlight = inFlight
      signatures.checked = signatures.verified = 0
    },
    /** Resolves once the event of each (transfer id, type) arrived; rejects after `timeoutMs`. */
    waitFor: (keys: (readonly [transferId: string, type: string])[], timeoutMs: number) => {
      const missing = () => keys.filter(([id, type]) => !byKey.has(`${id} ${type}`))
      return until(
        () => missing().length === 0,
        timeoutMs,
        () =>
          `${missing().length} of ${keys.length} expected callbacks did not arrive (first: ${missing()[0]?.join(' ')})`,
      )
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>
