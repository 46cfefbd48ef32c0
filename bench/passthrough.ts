import { Miniflare } from 'miniflare'
import type { Stack } from './stack'

// The floor of any Worker between a client and sFOX: it forwards the request's body as it comes
// (workerd pipes a request body natively, no JavaScript per chunk) and answers with sFOX's answer.
const SCRIPT = `export default {
  async fetch(request, env) {
    const headers = { authorization: request.headers.get('authorization') ?? '', 'content-type': request.headers.get('content-type') ?? '' }
    return fetch(env.SFOX_URL + new URL(request.url).pathname, { method: 'POST', headers, body: request.body })
  },
}`

/** A pass-through Worker in a workerd of its own (same compatibility date as the gateway's), in front of the stack's sFOX sandbox. */
export const startPassThrough = async (stack: Stack) => {
  const mf = new Miniflare({
    modules: true,
    script: SCRIPT,
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
