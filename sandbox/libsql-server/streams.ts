import { randomBytes } from 'node:crypto'
import type { Conn, DbHandle } from './database'
import { ProtocolError } from './errors'

/** A Hrana stream: one connection plus its stored SQL texts, reached through batons. */
export type Stream = {
  id: string
  db: DbHandle
  conn: Conn
  sqls: Map<number, string>
  /** Sequence number the next baton must carry, so an old baton cannot be replayed. */
  seq: number
  /** A request is using the stream right now. */
  inUse: boolean
  /** The client sent `close` (the stream ends when the current request does). */
  closing: boolean
  idleTimer: NodeJS.Timeout | undefined
}

export type Streams = {
  open: (db: DbHandle) => Stream
  /** Looks up the stream of a baton for a request; throws ProtocolError (HTTP 400) if unusable. */
  acquire: (baton: string, db: DbHandle) => Stream
  /** Ends a request that keeps the stream open; returns the baton for the next one. */
  release: (stream: Stream) => string
  /** Ends the stream: rolls back what it left open and returns its connection. */
  close: (stream: Stream) => void
  closeAll: () => void
  count: () => number
}

// Expired batons are remembered for a while only to tell "expired" from "unknown" in the error.
const EXPIRED_MEMORY_MS = 5 * 60_000
const EXPIRED_MEMORY_MAX = 10_000

export const createStreams = (idleTimeoutMs: number): Streams => {
  const live = new Map<string, Stream>()
  const expired = new Map<string, number>()

  const close = (stream: Stream) => {
    if (stream.idleTimer) clearTimeout(stream.idleTimer)
    stream.idleTimer = undefined
    if (live.get(stream.id) !== stream) return
    live.delete(stream.id)
    stream.db.release(stream.conn)
    stream.db.notifyUnlock()
  }

  const expire = (stream: Stream) => {
    const now = Date.now()
    for (const [id, at] of expired) {
      if (at > now - EXPIRED_MEMORY_MS && expired.size < EXPIRED_MEMORY_MAX) break
      expired.delete(id)
    }
    expired.set(stream.id, now)
    close(stream)
  }

  const open = (db: DbHandle): Stream => {
    const stream: Stream = {
      id: randomBytes(12).toString('base64url'),
      db,
      conn: db.acquire(),
      sqls: new Map(),
      seq: 0,
      inUse: true,
      closing: false,
      idleTimer: undefined,
    }
    live.set(stream.id, stream)
    return stream
  }

  const acquire = (baton: string, db: DbHandle): Stream => {
    const dot = baton.lastIndexOf('.')
    const id = baton.slice(0, dot)
    const stream = dot > 0 ? live.get(id) : undefined
    if (!stream || stream.db !== db) {
      if (expired.has(id)) {
        throw new ProtocolError('Invalid baton: the stream has expired due to inactivity', 'STREAM_EXPIRED')
      }
      throw new ProtocolError('Invalid baton: no such stream on this database', 'BATON_INVALID')
    }
    if (stream.inUse || baton.slice(dot + 1) !== String(stream.seq)) {
      throw new ProtocolError(
        'Invalid baton: it was already used (requests on a stream must be sequential)',
        'BATON_REUSED',
      )
    }
    if (stream.idleTimer) clearTimeout(stream.idleTimer)
    stream.idleTimer = undefined
    stream.inUse = true
    return stream
  }

  const release = (stream: Stream): string => {
    stream.inUse = false
    stream.seq++
    stream.idleTimer = setTimeout(() => expire(stream), idleTimeoutMs)
    stream.idleTimer.unref()
    return `${stream.id}.${stream.seq}`
  }

  const closeAll = () => {
    for (const stream of [...live.values()]) close(stream)
    expired.clear()
  }

  return { open, acquire, release, close, closeAll, count: () => live.size }
}
