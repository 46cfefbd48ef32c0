import { request as httpRequest } from 'node:http'

export type RawAnswer = { status: number; headers: Headers; text: string }

/**
 * Sends a request with a body over a connection of its own and reads the answer even when the
 * server answers before reading the whole body (a 413, a refusal): after an early answer no more is
 * written, since the rest would meet a closed connection whose reset can destroy the unread answer,
 * and with keep-alive the unread rest could be taken for the next request.
 */
export const sendRaw = (
  baseUrl: string,
  input: {
    method: string
    path: string
    headers: [string, string][] | Record<string, string>
    body: Uint8Array
    chunked?: boolean
  },
) =>
  new Promise<RawAnswer>((resolve, reject) => {
    const target = new URL(baseUrl)
    const headers: Record<string, string> = {}
    for (const [k, v] of Array.isArray(input.headers) ? input.headers : Object.entries(input.headers)) {
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`
    }
    if (!input.chunked) headers['content-length'] = String(input.body.length)
    headers.connection = 'close'
    const req = httpRequest({
      host: target.hostname,
      port: target.port,
      method: input.method,
      path: input.path,
      headers,
      agent: false,
    })
    let responded = false
    req.on('response', (res) => {
      responded = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const h = new Headers()
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v)
        resolve({ status: res.statusCode ?? 0, headers: h, text: Buffer.concat(chunks).toString('utf8') })
      })
    })
    req.on('error', (error) => setTimeout(() => reject(error), 50)) // an answer already on its way wins
    const piece = 16 * 1024
    const write = (at: number): void => {
      if (responded || req.destroyed) return
      if (at >= input.body.length) return void req.end()
      req.write(input.body.subarray(at, at + piece), () =>
        input.body.length > piece ? setTimeout(() => write(at + piece), 2) : write(at + piece),
      )
    }
    write(0)
  })
