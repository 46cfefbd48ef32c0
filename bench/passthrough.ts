import { Miniflare } from 'miniflare'
import { READ_BYTES } from '../src/lib/multipart-stream'
import { UPLOAD_QUEUE_BYTES } from '../src/providers/sfox/client'
import type { Stack } from './stack'

// The floor of any Worker between a client and sFOX: it forwards the request's body as it comes
// (workerd pipes a request body natively, no JavaScript per chunk) and answers with sFOX's answer.
const PLAIN = `export default {
  async fetch(request, env) {
    const headers = { authorization: request.headers.get('authorization') ?? '', 'content-type': request.headers.get('content-type') ?? '' }
    return fetch(env.SFOX_URL + new URL(request.url).pathname, { method: 'POST', headers, body: request.body })
  },
}`

// What reading, hashing and forwarding alone cost a Worker, written as the gateway reads and sends:
// BYOB reads of the gateway's READ_BYTES, each through workerd's SHA-256
// DigestStream and on to sFOX through an IdentityTransformStream, at most UPLOAD_QUEUE_BYTES queued;
// the answer waits for the digest.
const HASHING = `const READ_BYTES = ${READ_BYTES}
const QUEUE_BYTES = ${UPLOAD_QUEUE_BYTES}
export default {
  async fetch(request, env) {
    const headers = { authorization: request.headers.get('authorization') ?? '', 'content-type': request.headers.get('content-type') ?? '' }
    const pipe = new IdentityTransformStream()
    const out = pipe.writable.getWriter()
    const answer = fetch(env.SFOX_URL + new URL(request.url).pathname, { method: 'POST', headers, body: pipe.readable })
    const digest = new crypto.DigestStream('SHA-256')
    const hasher = digest.getWriter()
    const reader = request.body.getReader({ mode: 'byob' })
    let queued = 0
    let wake = () => {}
    for (;;) {
      const { done, value } = await reader.readAtLeast(READ_BYTES, new Uint8Array(READ_BYTES))
      if (value && value.byteLength > 0) {
        await hasher.write(value)
        queued += value.byteLength
        const settled = () => { queued -= value.byteLength; wake() }
        out.write(value).then(settled, settled)
        while (queued > QUEUE_BYTES) await new Promise((resolve) => (wake = resolve))
      }
      if (done) break
    }
    await hasher.close()
    await digest.digest
    await out.close()
    return answer
  },
}`

/**
 * A pass-through Worker in a workerd of its own (same compatibility date as the gateway's), in front
 * of the stack's sFOX sandbox; `hash` makes it the hashing one.
 */
export const startPassThrough = async (stack: Stack, { hash = false } = {}) => {
  const mf = new Miniflare({
    modules: true,
    script: hash ? HASHING : PLAIN,
    compatibilityDate: stack.gateway.compatibilityDate,
    bindings: { SFOX_URL: stack.sfox.url },
    // As the gateway's instance (test/helpers/worker.ts): subrequests without Miniflare's proxy worker.
    stripCfConnectingIp: false,
  })
  let closed: Promise<void> | null = null
  const close = () => {
    closed ??= mf.dispose()
    return closed
  }
  stack.onClose(close)
  return { url: (await mf.ready).toString(), close }
}
