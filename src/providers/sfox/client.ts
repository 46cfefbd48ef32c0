import type { Transfer } from '../../../db/schema'
import { sentFileName } from '../../schemas/documents'
import { callProvider, type ProviderFetch, type ProviderResponse, withRetryAfter } from '../outbound'
import { type DocumentUpload, fail, ok, type ProviderError, type Result, type TransferProvider } from '../provider'
import { checkSfoxConnection } from './connection-check'
import { errorOf, type SfoxOperation, type SfoxTransfer, snapshotOf } from './mapping'
import { multipartFraming } from './multipart'

export type SfoxConnection = { baseUrl: string; apiKey: string }

// Bytes queued toward sFOX beyond what it is reading: a few of the request's reads, so reading the
// request never waits on each write, and a slow sFOX holds the client back within this much.
export const UPLOAD_QUEUE_BYTES = 1024 * 1024
export type CallOptions = {
  timeoutMs: number
  uploadTimeoutMs?: number
  historyMaxRows?: number
  onTiming?: (ms: number) => void
  fetch?: ProviderFetch
}

/** The create body's fields as the gateway stores them (quantity and rate as decimal strings). */
export type SfoxDetails = {
  user_id: string
  type: 'PAYMENT' | 'PAYOUT'
  purpose: 'GOOD' | 'SERVICE'
  currency: string
  quantity: string
  rate: string
  description: string
}

// How far before our record sFOX's copy may be dated (clock skew), and after its last change (skew,
// a slow create): the window only has to be narrow, not tight.
const HISTORY_SLACK_MS = 10 * 60 * 1000
const HISTORY_LATE_SLACK_MS = 60 * 60 * 1000
const HISTORY_MAX_ROWS = 25_000

export const createSfoxProvider = (connection: SfoxConnection, options: CallOptions): TransferProvider => {
  const answerOf = (operation: SfoxOperation, response: ProviderResponse) =>
    response.status >= 200 && response.status < 300
      ? { ok: true as const, response }
      : {
          ok: false as const,
          error: withRetryAfter(errorOf(operation, response.status, response.json), response.headers),
        }

  const request = async (operation: SfoxOperation, method: string, path: string, body?: unknown) => {
    const result = await callProvider({
      provider: 'sfox',
      url: new URL(path, connection.baseUrl).toString(),
      method,
      headers: {
        authorization: `Bearer ${connection.apiKey}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: options.timeoutMs,
      onTiming: options.onTiming,
      fetch: options.fetch,
    })
    return result.ok ? answerOf(operation, result.response) : result
  }

  /**
   * §7.6 Submit Documents as a body streamed while the files arrive (chunked: its length is not known
   * up front), through workerd's own byte stream: fetch reads it natively, no JavaScript runs per
   * chunk on its way out. The upload timeout bounds each wait for sFOX to take queued bytes and, once
   * the body has ended, the wait for its answer; the time the files take to arrive is the client's.
   */
  const streamUpload = (userId: string): DocumentUpload => {
    const timeoutMs = options.uploadTimeoutMs ?? options.timeoutMs
    const framing = multipartFraming()
    const pipe = new IdentityTransformStream()
    const body = pipe.writable.getWriter()
    const abort = new AbortController()
    let timer: ReturnType<typeof setTimeout> | undefined
    let timedOut = false
    // Set when the wait runs out after sFOX had been sent the whole body: it may hold the documents.
    let tookWholeBody = false
    let closed = false
    const waitFor = () => {
      clearTimeout(timer)
      timer = setTimeout(() => {
        timedOut = true
        tookWholeBody = closed && queued === 0
        abort.abort()
      }, timeoutMs)
    }
    // Each write settles once sFOX has read it (or the body failed): `queued` is what it has not read
    // yet. (Counted here: with a highWaterMark, this stream's `ready` stayed pending in workerd once a
    // write took it past the mark, even after the queue drained.)
    let queued = 0
    let onSettled = () => {}
    const send = (bytes: Uint8Array) => {
      queued += bytes.length
      const settled = () => {
        queued -= bytes.length
        onSettled()
      }
      void body.write(bytes).then(settled, settled)
    }
    let answered = false
    const room = async () => {
      if (queued <= UPLOAD_QUEUE_BYTES || answered) return
      waitFor()
      while (queued > UPLOAD_QUEUE_BYTES) await new Promise<void>((resolve) => (onSettled = resolve))
      clearTimeout(timer)
    }
    const sent = callProvider({
      provider: 'sfox',
      url: new URL('/v1/enterprise/ddq/upload', connection.baseUrl).toString(),
      method: 'POST',
      headers: {
        authorization: `Bearer ${connection.apiKey}`,
        accept: 'application/json',
        'content-type': framing.contentType,
      },
      body: pipe.readable,
      timeoutMs,
      deadline: { signal: abort.signal, timedOut: () => timedOut },
      onTiming: options.onTiming,
      fetch: options.fetch,
    }).finally(() => {
      answered = true
      clearTimeout(timer)
      // sFOX answered before taking the whole body (a refusal, an outage): the rest is not sent.
      void body.abort().catch(() => {})
    })
    let inFile = false
    let ended = false
    return {
      async write(chunk) {
        if (ended) return
        if (chunk instanceof Uint8Array) {
          if (chunk.length > 0) send(chunk)
        } else {
          send(inFile ? framing.partEnd : framing.text('user_id', userId))
          inFile = true
          send(framing.fileHead('files', sentFileName(chunk.file), chunk.contentType))
        }
        await room()
      },
      end(rest) {
        if (ended) return
        ended = true
        if (!rest) {
          abort.abort()
          void body.abort().catch(() => {})
          return
        }
        if (inFile) send(framing.partEnd)
        const sentTypes = Object.entries(rest.fileTypes).map(([name, type]) => [sentFileName(name), type])
        send(framing.text('file_types', JSON.stringify(Object.fromEntries(sentTypes))))
        if (rest.ddqId) send(framing.text('ddq_id', rest.ddqId))
        send(framing.close)
        closed = true
        void body.close().catch(() => {})
        // Until sFOX has taken the rest and answered.
        if (!answered) waitFor()
      },
      result: sent.then((answer) => {
        const result = answer.ok ? answerOf('upload', answer.response) : answer
        if (!result.ok && result.error.kind === 'timeout')
          return fail(uploadTimeout(result.error, tookWholeBody, timeoutMs))
        if (!result.ok) return result
        const message = (result.response.json as { message?: unknown } | null)?.message
        return ok({ message: typeof message === 'string' ? message : 'accepted' })
      }),
    }
  }

  const dataOf = (response: ProviderResponse) => (response.json as { data?: unknown } | null)?.data

  const transferOf = (response: ProviderResponse): Result<SfoxTransfer> => {
    const data = dataOf(response) as SfoxTransfer | undefined
    if (!data || typeof data.transfer_status_code !== 'string') {
      return fail(malformed(response.status))
    }
    return ok(data)
  }

  /**
   * sFOX's history has no transfer_id filter and no cursor: fetch the window that holds the
   * transfers (from the first create to the last change) and pick them out. An answer with the most
   * rows sFOX gives may have left some out: whoever is missing from it is looked up alone, in its own
   * window and of its own type. Absent from a complete answer is the only "not there" that counts.
   */
  const historyWindow = async (within: Transfer[], type?: string) => {
    const from = Math.min(...within.map((t) => t.createdAt)) - HISTORY_SLACK_MS
    const to = Math.max(...within.map((t) => t.updatedAt)) + HISTORY_LATE_SLACK_MS
    const query = new URLSearchParams({ ...(type ? { type } : {}), from_date: String(from), to_date: String(to) })
    const result = await request('history', 'GET', `/v1/enterprise/transfer/history?${query}`)
    if (!result.ok) return result
    const rows = dataOf(result.response)
    if (!Array.isArray(rows)) return fail<never>(malformed(result.response.status))
    const wanted = new Set(within.map((t) => t.id))
    return ok({
      found: (rows as SfoxTransfer[]).filter((row) => wanted.has(row.transfer_id)),
      complete: rows.length < (options.historyMaxRows ?? HISTORY_MAX_ROWS),
    })
  }

  /** Each transfer's row, `null` where a complete answer proves sFOX has none; unknowns are left out. */
  const history = async (transfers: Transfer[]): Promise<Result<Map<string, SfoxTransfer | null>>> => {
    const known = new Map<string, SfoxTransfer | null>()
    const all = await historyWindow(transfers)
    if (!all.ok) return all
    for (const row of all.value.found) known.set(row.transfer_id, row)
    for (const transfer of transfers.filter((t) => !known.has(t.id))) {
      if (all.value.complete) {
        known.set(transfer.id, null)
        continue
      }
      const alone = await historyWindow([transfer], (transfer.details as SfoxDetails).type)
      if (!alone.ok) break // the rest stay unknown until the next run
      const [row] = alone.value.found
      if (row || alone.value.complete) known.set(transfer.id, row ?? null)
    }
    return ok(known)
  }

  const findInHistory = async (transfer: Transfer): Promise<Result<SfoxTransfer | null>> => {
    const found = await history([transfer])
    if (!found.ok) return found
    if (!found.value.has(transfer.id)) {
      return fail({
        kind: 'unavailable',
        provider: 'sfox',
        status: 200,
        code: null,
        message: "sFOX's history is too full to tell whether it has the transfer",
      })
    }
    return ok(found.value.get(transfer.id)!)
  }

  return {
    name: 'sfox',

    // Our transfer id is unique across partners, so it is what sFOX knows the transfer by.
    prepare: (id) => ({ providerReference: id, providerState: null }),

    async create(transfer) {
      const details = transfer.details as SfoxDetails
      const result = await request('create', 'POST', '/v1/enterprise/transfer', {
        transfer_id: transfer.id,
        description: details.description,
        purpose: details.purpose,
        type: details.type,
        user_id: details.user_id,
        currency: details.currency,
        // sFOX takes JSON numbers; the API refuses decimals a double cannot carry exactly.
        quantity: Number(details.quantity),
        rate: Number(details.rate),
      })
      if (result.ok) {
        const created = transferOf(result.response)
        return created.ok ? ok(snapshotOf(created.value)) : created
      }
      // A replay of a create sFOX already has: adopt sFOX's copy instead of reporting an error.
      if (result.error.kind !== 'duplicate') return result
      const found = await findInHistory(transfer)
      // sFOX says it has this transfer: whatever the lookup's failure, the outcome is unknown, not refused.
      if (!found.ok) return fail({ ...found.error, kind: 'unavailable' })
      if (!found.value)
        return fail({
          ...result.error,
          kind: 'unavailable',
          message: `${result.error.message} (not yet in sFOX's history)`,
        })
      return ok(snapshotOf(found.value))
    },

    async confirm(transfer, code) {
      const result = await request('confirm', 'POST', '/v1/enterprise/transfer/confirm', {
        transfer_id: transfer.id,
        otp: code,
      })
      if (!result.ok) return result
      const confirmed = transferOf(result.response)
      return confirmed.ok ? ok(snapshotOf(confirmed.value)) : confirmed
    },

    async resend(transfer) {
      const result = await request('resend', 'POST', '/v1/enterprise/transfer/resend-confirmation', {
        transfer_id: transfer.id,
      })
      return result.ok ? ok({ channel: 'email', codeExpiresAt: null }) : result
    },

    async cancel(transfer) {
      const result = await request('cancel', 'DELETE', `/v1/enterprise/transfer/${encodeURIComponent(transfer.id)}`)
      if (!result.ok) return result
      return ok({ reference: transfer.id, providerStatus: 'CANCELED', status: 'canceled', codeExpiresAt: null })
    },

    // §7.6 Submit Documents (legacy): multipart, the files streamed from the request that brought them.
    uploadDocuments: streamUpload,

    async fetchMany(transfers) {
      if (transfers.length === 0) return ok(new Map())
      const found = await history(transfers)
      return found.ok ? ok(new Map([...found.value].map(([id, t]) => [id, t && snapshotOf(t)]))) : found
    },

    checkConnection: () =>
      checkSfoxConnection(async (path) => {
        const result = await request('history', 'GET', path)
        return result.ok ? ok(result.response.json) : result
      }, connection.baseUrl),

    async fetchStatus(transfer) {
      const found = await findInHistory(transfer)
      if (!found.ok) return found
      if (!found.value) {
        return fail({
          kind: 'not_found',
          provider: 'sfox',
          status: 200,
          code: null,
          message: 'not in sFOX transfer history',
        })
      }
      return ok(snapshotOf(found.value))
    },
  }
}

/** What a timed-out upload left at sFOX: an unfinished body, which it drops, or a whole one, which it may keep. */
const uploadTimeout = (error: ProviderError, tookWholeBody: boolean, timeoutMs: number): ProviderError =>
  tookWholeBody
    ? {
        ...error,
        mayHaveTakenEffect: true,
        message: `sFOX was sent the whole upload but did not answer within ${timeoutMs} ms`,
      }
    : { ...error, message: `sFOX stopped reading the upload for ${timeoutMs} ms; it was cut off unfinished` }

const malformed = (status: number): ProviderError => ({
  kind: 'unavailable',
  provider: 'sfox',
  status,
  code: null,
  message: 'sFOX answered with an unexpected body',
})
