import { createMiddleware } from 'hono/factory'
import { drainReader } from '../lib/drain'
import { Problem } from '../lib/problem'
import type { AppEnv } from './app-env'

// A body refused unread is read to its end (and dropped) before the answer goes out, up to this
// much: closing a connection with unread data resets it, and the client may never see the answer.
export const DRAIN_BYTES = 16 * 1024 * 1024

export const drain = async (body: ReadableStream<Uint8Array> | null, limit: number) => {
  if (body) await drainReader(body.getReader(), limit)
}

/**
 * Any refusal (auth, a wrong method, no such route, a media type) that left a body unread drops it
 * before the answer goes out, so one place covers them all: a declared one up to DRAIN_BYTES, and a
 * chunked one (no length declared) up to DRAIN_BYTES too.
 */
export const drainUnreadBody = createMiddleware<AppEnv>(async (c, next) => {
  await next()
  if (c.res.status < 400 || c.req.raw.bodyUsed || !c.req.raw.body) return
  const header = c.req.header('content-length')
  const declared = Number(header ?? 0)
  if (header === undefined) await drain(c.req.raw.body, DRAIN_BYTES)
  else if (declared > 0 && declared <= DRAIN_BYTES) await drain(c.req.raw.body, declared)
})

const tooLarge = (maxBytes: number) =>
  new Problem('payload_too_large', { detail: `Request bodies are limited to ${maxBytes} bytes.` })

/** Reads a streamed body while it stays within `maxBytes`; null once it goes over (the rest is drained). */
const readWithin = async (body: ReadableStream<Uint8Array>, maxBytes: number) => {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      reader.releaseLock()
      await drain(body, DRAIN_BYTES)
      return null
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/**
 * A streamed body counted as it is read: past `maxBytes` the reader gets payload_too_large (the
 * route answers it), and nothing was kept.
 */
const countedTo = (maxBytes: number) => {
  let size = 0
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.byteLength
      if (size > maxBytes) controller.error(tooLarge(maxBytes))
      else controller.enqueue(chunk)
    },
  })
}

/**
 * Bodies over the limit are refused without being kept. A declared length is checked up front. A
 * streamed (chunked) body is read here within the limit when the limit is small (JSON routes);
 * large streamed uploads (documents) are counted as the route reads them.
 */
export const limitBody = (maxBytes: number) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const declared = c.req.header('content-length')
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined) {
      const body = c.req.raw.body
      if (!body) return next()
      if (maxBytes > 1024 * 1024) {
        c.req.raw = new Request(c.req.raw, { body: body.pipeThrough(countedTo(maxBytes)) })
        return next()
      }
      const bytes = await readWithin(body, maxBytes)
      if (!bytes) throw tooLarge(maxBytes)
      c.req.raw = new Request(c.req.raw, { body: bytes })
      return next()
    }
    const length = Number(declared)
    if (Number.isFinite(length) && length > maxBytes) {
      if (length <= maxBytes + DRAIN_BYTES) await drain(c.req.raw.body, length)
      throw tooLarge(maxBytes)
    }
    return next()
  })

const hasBody = (req: Request) =>
  req.headers.get('transfer-encoding') !== null || Number(req.headers.get('content-length') ?? '0') > 0

/** A JSON API: a request with a body must say it is JSON (a form post is refused, not half-read). */
export const requireJson = createMiddleware<AppEnv>(async (c, next) => {
  if (hasBody(c.req.raw)) {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    if (type !== 'application/json' && !/^application\/[\w.-]+\+json$/.test(type)) {
      throw new Problem('unsupported_media_type', {
        detail: 'Send the request body as application/json.',
      })
    }
  }
  await next()
})
