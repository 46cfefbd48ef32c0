import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A confirm as sFOX received it: the code (which the sandbox's own request log redacts) and its answer. */
export type ConfirmSeen = { transferId: string; otp: string; status: number; error: string | null }

/**
 * A pass-through in front of the sFOX sandbox that notes every confirm with its code and the answer
 * the sandbox gave. The soak counts, at the provider, how many wrong codes were judged per transfer;
 * the sandbox's own log masks the code. It waits for the sandbox's answer even when the gateway has
 * given up (a slow fault past its timeout), since the provider judged the code all the same.
 */
export const startCountingProxy = async (target: string) => {
  const confirms: ConfirmSeen[] = []
  let forwarded = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', async () => {
      forwarded++
      const body = Buffer.concat(chunks)
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.headers)) {
        if (value === undefined || ['host', 'connection', 'content-length', 'transfer-encoding'].includes(name))
          continue
        headers[name] = Array.isArray(value) ? value.join(', ') : value
      }
      try {
        const answer = await fetch(`${target}${req.url}`, {
          method: req.method,
          headers,
          body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
        })
        const bytes = Buffer.from(await answer.arrayBuffer())
        if (req.method === 'POST' && req.url?.startsWith('/v1/enterprise/transfer/confirm')) {
          let sent: { transfer_id?: string; otp?: string } = {}
          let error: string | null = null
          try {
            sent = JSON.parse(body.toString('utf8'))
          } catch {}
          try {
            error = (JSON.parse(bytes.toString('utf8')) as { error?: string }).error ?? null
          } catch {}
          confirms.push({
            transferId: String(sent.transfer_id),
            otp: String(sent.otp),
            status: answer.status,
            error,
          })
        }
        if (res.destroyed) return
        const out: Record<string, string> = {}
        answer.headers.forEach((value, name) => {
          if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(name))
            out[name] = value
        })
        res.writeHead(answer.status, out).end(bytes)
      } catch (error) {
        if (!res.destroyed) res.writeHead(502).end(String(error))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    confirms,
    forwarded: () => forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
