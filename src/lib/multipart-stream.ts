import { drainReader } from './drain'
import { utf8 } from './encoding'

/** A part's headers as multipart/form-data gives them: `filename` null for a text field. */
export type PartHead = { name: string; filename: string | null; contentType: string }

/** A part begins (its headers), or the next bytes of the current part; a part ends where the next begins. */
export type MultipartEvent = { type: 'part'; head: PartHead } | { type: 'data'; bytes: Uint8Array }

/** The body is not multipart/form-data as its boundary says (or it ended early). */
export class MalformedMultipart extends Error {
  override name = 'MalformedMultipart'
}

// A part's headers are a name, a file name (at most a few hundred characters) and a type.
const MAX_HEAD_BYTES = 16 * 1024
const BATCH_BYTES = 64 * 1024
// What one BYOB read fills: fewer, larger reads; a submission holds a few of them at a time.
export const READ_BYTES = 256 * 1024
const CR = 0x0d
const CRLF = utf8('\r\n')
const HEAD_END = utf8('\r\n\r\n')

/** The boundary of a multipart Content-Type (quoted or not), or null when it has none usable (RFC 2046: 1–70 characters). */
export const boundaryOf = (contentType: string): string | null => {
  const match = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType)
  const boundary = match?.[1] ?? match?.[2] ?? ''
  return boundary.length >= 1 && boundary.length <= 70 && /^[\x20-\x7e]+$/.test(boundary) ? boundary : null
}

/**
 * A search for `pattern` (Horspool's): where it starts in `bytes` at or after `from`, or -1. It
 * looks at about one byte in `pattern.length`: every file byte is scanned for the boundary, and
 * stopping at each CR in them (one byte in 256) was the reader's largest cost.
 */
const finderOf = (pattern: Uint8Array) => {
  const m = pattern.length
  const lastByte = pattern[m - 1]!
  const skip = new Uint8Array(256).fill(m)
  for (let i = 0; i < m - 1; i++) skip[pattern[i]!] = m - 1 - i
  return (bytes: Uint8Array, from = 0): number => {
    for (let i = from; i <= bytes.length - m; ) {
      const last = bytes[i + m - 1]!
      if (last === lastByte) {
        let j = m - 2
        while (j >= 0 && bytes[i + j] === pattern[j]) j--
        if (j < 0) return i
      }
      i += skip[last]!
    }
    return -1
  }
}

/** Where a partial `pattern` may begin at the end of `bytes` (it could complete in the next chunk), else bytes.length. */
const partialTailStart = (bytes: Uint8Array, pattern: Uint8Array): number => {
  for (let i = Math.max(0, bytes.length - pattern.length + 1); i < bytes.length; i++) {
    if (bytes[i] !== CR) continue
    let j = 1
    while (i + j < bytes.length && bytes[i + j] === pattern[j]) j++
    if (i + j === bytes.length) return i
  }
  return bytes.length
}

const concat = (a: Uint8Array, b: Uint8Array) => {
  if (a.length === 0) return b
  const joined = new Uint8Array(a.length + b.length)
  joined.set(a)
  joined.set(b, a.length)
  return joined
}

/** Parameters of a Content-Disposition value; quoted values are taken as browsers send them (no escapes). */
const dispositionOf = (value: string) => {
  const [kind, ...rest] = value.split(';')
  const params = new Map<string, string>()
  for (const match of rest.join(';').matchAll(/(?:^|;)\s*([\w*-]+)\s*=\s*(?:"([^"]*)"|([^;]*))/g)) {
    const key = match[1]!.toLowerCase()
    if (!params.has(key)) params.set(key, match[2] ?? match[3]!.trim())
  }
  return { kind: kind!.trim().toLowerCase(), params }
}

const headOf = (bytes: Uint8Array): PartHead => {
  let disposition: string | null = null
  let contentType = ''
  for (const line of new TextDecoder().decode(bytes).split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === 'content-disposition') disposition ??= value
    else if (name === 'content-type') contentType ||= value
  }
  if (disposition === null) throw new MalformedMultipart('a part without Content-Disposition')
  const { kind, params } = dispositionOf(disposition)
  const name = params.get('name')
  if (kind !== 'form-data' || name === undefined) throw new MalformedMultipart('a part without a form-data name')
  return { name, filename: params.get('filename') ?? null, contentType }
}

// How much of an abandoned body is still read before it is cut off (the route's body limit is far below).
const DRAIN_LIMIT = 32 * 1024 * 1024

type WorkerdByobReader = ReadableStreamBYOBReader & {
  readAtLeast?: (min: number, view: Uint8Array) => Promise<ReadableStreamReadResult<Uint8Array>>
}

/**
 * The body's bytes in chunks, null at its end. workerd gives a default reader a request body 4 KiB
 * per read; a BYOB reader's readAtLeast fills READ_BYTES per read, a sixty-fourth of the reads and
 * of the promise hops behind each. Streams that are not byte streams are read the default way.
 */
const chunksOf = (body: ReadableStream<Uint8Array>) => {
  let byob: WorkerdByobReader | null = null
  try {
    byob = body.getReader({ mode: 'byob' }) as WorkerdByobReader
  } catch {
    // not a byte stream (e.g. the body limit's counting stream)
  }
  if (!byob) {
    const reader = body.getReader()
    return {
      next: async () => {
        const { done, value } = await reader.read()
        return done ? null : value
      },
      drain: () => drainReader(reader, DRAIN_LIMIT),
    }
  }
  const reader = byob
  return {
    next: async (): Promise<Uint8Array | null> => {
      // A fresh buffer each time: the chunk read goes on (to the hash, to sFOX) and is never reused.
      const view = new Uint8Array(READ_BYTES)
      const { done, value } = reader.readAtLeast ? await reader.readAtLeast(READ_BYTES, view) : await reader.read(view)
      if (value && value.byteLength > 0) return value
      return done ? null : new Uint8Array(0)
    },
    drain: async () => {
      reader.releaseLock()
      await drainReader(body.getReader(), DRAIN_LIMIT)
    },
  }
}

/**
 * Reads a multipart/form-data body as it arrives: each part's headers, then its bytes in the
 * chunks they came in (never joined into one copy). Memory stays at a chunk plus a boundary's
 * length. Throws MalformedMultipart when the body breaks the format or ends before its closing
 * boundary; a failure to read the body itself is rethrown as it came. The epilogue is read and dropped.
 */
export async function* readMultipart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
): AsyncGenerator<MultipartEvent> {
  const delimiter = utf8(`\r\n--${boundary}`)
  const findDelimiter = finderOf(delimiter)
  const findHeadEnd = finderOf(HEAD_END)
  const source = chunksOf(body)
  // A CRLF in front lets the first boundary (which has none before it) be found like the others.
  let buffer: Uint8Array = CRLF
  let state: 'preamble' | 'after-boundary' | 'head' | 'body' | 'done' = 'preamble'
  let ended = false
  try {
    for (;;) {
      let progressed = true
      while (progressed && state !== 'done') {
        progressed = false
        if (state === 'preamble' || state === 'body') {
          const at = findDelimiter(buffer)
          const upTo = at >= 0 ? at : partialTailStart(buffer, delimiter)
          if (state === 'body' && upTo > 0) yield { type: 'data', bytes: buffer.subarray(0, upTo) }
          buffer = at >= 0 ? buffer.subarray(at + delimiter.length) : buffer.slice(upTo)
          if (at >= 0) {
            state = 'after-boundary'
            progressed = true
          }
        } else if (state === 'after-boundary') {
          // "--" closes the body; otherwise optional spaces (transport padding) and a CRLF start a part.
          let i = 0
          while (i < buffer.length && (buffer[i] === 0x20 || buffer[i] === 0x09)) i++
          if (i === 0 && buffer.length >= 2 && buffer[0] === 0x2d && buffer[1] === 0x2d) {
            state = 'done'
          } else if (buffer.length >= i + 2) {
            if (buffer[i] !== CR || buffer[i + 1] !== 0x0a)
              throw new MalformedMultipart('no line break after a boundary')
            buffer = buffer.subarray(i + 2)
            state = 'head'
            progressed = true
          }
        } else if (state === 'head') {
          const empty = buffer.length >= 2 && buffer[0] === CR && buffer[1] === 0x0a
          const end = empty ? -2 : findHeadEnd(buffer)
          if (end === -1) {
            if (buffer.length > MAX_HEAD_BYTES) throw new MalformedMultipart('part headers too long')
          } else {
            yield { type: 'part', head: headOf(buffer.subarray(0, Math.max(0, end))) }
            buffer = buffer.subarray(end + 4)
            state = 'body'
            progressed = true
          }
        }
      }
      if (ended) break
      // Small chunks are gathered up to BATCH_BYTES: every step after this one costs per chunk.
      const gathered: Uint8Array[] = []
      let size = 0
      while (size < BATCH_BYTES) {
        const value = await source.next()
        if (value === null) {
          ended = true
          break
        }
        gathered.push(value)
        size += value.byteLength
      }
      if (state !== 'done' && size > 0) {
        if (gathered.length === 1) buffer = concat(buffer, gathered[0]!)
        else {
          const joined = new Uint8Array(buffer.length + size)
          joined.set(buffer)
          let at = buffer.length
          for (const chunk of gathered) {
            joined.set(chunk, at)
            at += chunk.byteLength
          }
          buffer = joined
        }
      }
    }
    if (state !== 'done') throw new MalformedMultipart('the body ended before its closing boundary')
  } finally {
    // Stopped early (a malformed part, a consumer that gave up): the rest is read and dropped, so the
    // client's upload completes and it sees the answer (an unread body resets the connection).
    if (!ended) await source.drain()
  }
}
