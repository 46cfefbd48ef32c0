import type { SubmittedFile } from '../../db/schema'
import { sha256Hex } from '../lib/crypto'
import { toHex } from '../lib/encoding'
import { stableJson } from '../lib/json'
import { readMultipart } from '../lib/multipart-stream'
import { fieldProblem, Problem } from '../lib/problem'
import { problemFor } from '../providers/problems'
import {
  type DocumentChunk,
  type DocumentUpload,
  isTransient,
  type ProviderError,
  type TransferProvider,
} from '../providers/provider'
import type { PartnerContext, Services } from '../services'
import { claimSubmission, findByIdempotencyKey, finishSubmission, isResumable } from './submission-store'
import { type UploadedFile, validateDocuments } from './validation'

// Longer than the upload to sFOX may take; a replay after that may take the submission over.
const leaseMs = (services: Services) => services.settings.PROVIDER_UPLOAD_TIMEOUT_MS + 10_000

// Enough of a file's first bytes for the longest magic number (PNG's 8).
const HEAD_BYTES = 8
// A valid file_types names at most DOCUMENT_LIMITS.maxFiles files: one longer than this never is, so it is not kept.
const MAX_TEXT_BYTES = 64 * 1024
const DDQ_MAX = 64

export type DocumentsInput = {
  userId: string
  idempotencyKey: string | null
  /** The request's multipart body and its boundary: read once, as it arrives. */
  body: ReadableStream<Uint8Array>
  boundary: string
}

type Rest = { fileTypes: Record<string, string>; ddqId: string | null }
type Digest = { writer: WritableStreamDefaultWriter<Uint8Array>; digest: Promise<ArrayBuffer> }
type ArrivingFile = UploadedFile & { hash: Digest | null; sha256: string | null }
/** The first ddq_id part, as FormData.get would give it: text, or a file (never valid). */
type DdqField = { text: string } | { file: true } | null

const ddqInvalid = (ddq: DdqField) => ddq !== null && ('file' in ddq || ddq.text.length > DDQ_MAX)

/** SHA-256 through workerd's DigestStream: the file's bytes pass through it, no copy is kept. */
const newDigest = (): Digest => {
  // (Typed through workers-types: the Node-side type-check of shared code knows only Node's crypto.)
  const stream = new (crypto as unknown as { DigestStream: typeof DigestStream }).DigestStream('SHA-256')
  return { writer: stream.getWriter(), digest: stream.digest }
}

/**
 * The upload to sFOX, opened when the first bytes may go. Until then, and until a file's first
 * bytes are checked, chunks wait in `held` (the request's own chunks, not copies). Writes wait
 * while sFOX is slower than the client (a little is queued toward it), so memory stays flat.
 */
const outboundTo = (provider: TransferProvider, userId: string) => {
  let held: DocumentChunk[] = []
  let upload: DocumentUpload | null = null
  let answered = false
  const open = () => {
    const opened = provider.uploadDocuments!(userId)
    void opened.result.then(() => {
      answered = true
    })
    upload = opened
    return opened
  }
  const flush = async () => {
    if (held.length === 0) return
    const to = upload ?? open()
    const chunks = held
    held = []
    for (const chunk of chunks) {
      // sFOX answered before the body ended (a refusal, an outage): the rest is not sent.
      if (answered) return
      await Promise.race([to.write(chunk), to.result])
    }
  }
  return {
    hold: (chunk: DocumentChunk) => void held.push(chunk),
    flush,
    /** Leaves sFOX an unfinished body, which it never records. */
    discard() {
      held = []
      upload?.end(null)
    },
    /** Sends what is held and the parts after the files, ends the body and waits for sFOX's answer. */
    async finish(rest: Rest) {
      await flush()
      const to = upload ?? open()
      to.end(rest)
      return to.result
    },
  }
}
type Outbound = ReturnType<typeof outboundTo>

/**
 * Reads the multipart body part by part: each file is hashed and checked as it passes, and goes on
 * to sFOX once file_types has arrived and the file's first bytes are checked. The first problem no
 * later part can undo stops the upload to sFOX; the body is still read to its end, so the answer
 * names every problem (as validateDocuments does) and the client's upload completes.
 */
const readSubmission = async (input: DocumentsInput, maxFileBytes: number, outbound: Outbound | null) => {
  const files: ArrivingFile[] = []
  let fileTypesRaw: string | null = null
  let fileTypesSeen = false
  let ddq: DdqField = null
  let text: { field: 'file_types' | 'ddq_id'; decoder: TextDecoder; value: string; size: number } | null = null
  let current: ArrivingFile | null = null
  let refused = false
  // file_types came before the first file: the files go on to sFOX as they arrive. Otherwise they are
  // held until the whole body has passed, so nothing leaves for a submission its file_types refuses.
  let streaming = false

  const settle = () => {
    if (refused) return
    if (ddqInvalid(ddq) || !validateDocuments(files, fileTypesRaw, maxFileBytes, { arriving: true }).ok) {
      refused = true
      outbound?.discard()
    }
  }
  const endPart = async () => {
    if (current) {
      const file = current
      current = null
      file.complete = true
      if (file.hash && !refused) {
        await file.hash.writer.close()
        file.sha256 = toHex(await file.hash.digest)
      }
      settle()
    }
    if (text) {
      const value = text.value + text.decoder.decode()
      // Over the cap it cannot be valid: kept as text that is not JSON, which the checks refuse as such.
      if (text.field === 'file_types') fileTypesRaw = text.size > MAX_TEXT_BYTES ? '' : value
      else ddq = { text: value }
      text = null
      settle()
    }
  }
  const forward = async () => {
    if (outbound && streaming && !refused && (!current || current.head.length >= HEAD_BYTES)) await outbound.flush()
  }

  try {
    for await (const event of readMultipart(input.body, input.boundary)) {
      if (event.type === 'part') {
        await endPart()
        await forward()
        const { name, filename, contentType } = event.head
        if (name === 'files' && filename !== null) {
          if (files.length === 0 && fileTypesRaw !== null) streaming = true
          current = {
            name: filename,
            contentType,
            size: 0,
            head: new Uint8Array(0),
            complete: false,
            hash: null,
            sha256: null,
          }
          files.push(current)
          settle()
          if (!refused) {
            current.hash = newDigest()
            outbound?.hold({ file: filename, contentType })
          }
        } else if (name === 'file_types' && !fileTypesSeen) {
          fileTypesSeen = true
          // A file part there is no file_types text (FormData.get gives a File): refused as missing.
          if (filename === null) text = { field: 'file_types', decoder: new TextDecoder(), value: '', size: 0 }
        } else if (name === 'ddq_id' && ddq === null) {
          if (filename === null) text = { field: 'ddq_id', decoder: new TextDecoder(), value: '', size: 0 }
          else ddq = { file: true }
          settle()
        }
        continue
      }
      const { bytes } = event
      if (current) {
        const file: ArrivingFile = current
        file.size += bytes.length
        // Of what the checks read, only a file's first bytes and its size change as its bytes arrive.
        let changed = file.size > maxFileBytes
        if (file.head.length < HEAD_BYTES) {
          const head = new Uint8Array(Math.min(HEAD_BYTES, file.head.length + bytes.length))
          head.set(file.head)
          head.set(bytes.subarray(0, head.length - file.head.length), file.head.length)
          file.head = head
          changed = true
        }
        if (changed) settle()
        if (refused) continue
        await file.hash?.writer.write(bytes)
        outbound?.hold(bytes)
        await forward()
      } else if (text) {
        text.size += bytes.length
        if (text.size <= MAX_TEXT_BYTES) text.value += text.decoder.decode(bytes, { stream: true })
      }
    }
    await endPart()
  } catch (error) {
    if (error instanceof Problem) throw error
    throw new Problem('malformed_multipart', { detail: 'The multipart body could not be read.' })
  }
  // (Typed again: they are set inside the callbacks above, which the narrowing does not follow.)
  return { files, fileTypesRaw: fileTypesRaw as string | null, ddq: ddq as DdqField }
}

/**
 * Checks the documents exactly as sFOX would, records what was sent (never the contents) and
 * forwards them as multipart to the partner's sFOX connection while they arrive. The submission is
 * claimed (and its Idempotency-Key checked) once the whole body has arrived and passed, before the
 * body to sFOX is ended: until then sFOX has an unfinished upload, dropped on any refusal. A retry
 * of a submission that has an answer (or is still being sent) is hashed, never sent.
 */
export const submitDocuments = async (services: Services, partner: PartnerContext, input: DocumentsInput) => {
  // Refusals of the body itself (malformed, a bad ddq_id) come first, as when the body was read before anything.
  const provider = await services.providerFor(partner, 'sfox').then(
    (adapter) => ({ ok: true as const, adapter }),
    (error: unknown) => ({ ok: false as const, error }),
  )
  const earlier = input.idempotencyKey
    ? await findByIdempotencyKey(services.db, partner, input.idempotencyKey)
    : undefined
  const hashOnly = earlier !== undefined && !isResumable(earlier, services.now())
  const outbound = provider.ok && !hashOnly ? outboundTo(provider.adapter, input.userId) : null
  let sending = false
  try {
    const read = await readSubmission(input, services.settings.DOCUMENT_MAX_FILE_BYTES, outbound)
    if (ddqInvalid(read.ddq)) {
      throw fieldProblem(
        'ddq_id',
        { code: 'invalid', message: `at most ${DDQ_MAX} characters` },
        `ddq_id must be text of at most ${DDQ_MAX} characters.`,
      )
    }
    if (!provider.ok) throw provider.error
    const checked = validateDocuments(read.files, read.fileTypesRaw, services.settings.DOCUMENT_MAX_FILE_BYTES)
    if (!checked.ok) {
      const first = checked.errors[0]!
      throw new Problem('invalid_request', {
        detail: `The documents were not sent: ${first.file ? `${first.file}: ` : ''}${first.message}${checked.errors.length > 1 ? ` (and ${checked.errors.length - 1} more)` : ''}.`,
        extensions: { errors: checked.errors },
      })
    }

    const ddqId = read.ddq && 'text' in read.ddq && read.ddq.text !== '' ? read.ddq.text : null
    const files: SubmittedFile[] = read.files.map((f) => ({
      name: f.name,
      type: checked.fileTypes[f.name]!,
      content_type: f.contentType.split(';')[0]!.trim().toLowerCase() as SubmittedFile['content_type'],
      size: f.size,
      sha256: f.sha256!,
    }))
    const requestHash = await sha256Hex(stableJson({ user_id: input.userId, ddq_id: ddqId, files }))
    if (hashOnly) return replayOf(services, partner, input.idempotencyKey!, requestHash)

    const now = services.now()
    const claim = await claimSubmission(
      services.db,
      {
        owner: partner,
        userId: input.userId,
        ddqId,
        idempotencyKey: input.idempotencyKey,
        requestHash,
        files,
      },
      now,
      leaseMs(services),
    )
    switch (claim.kind) {
      case 'conflict':
        throw keyReused()
      case 'in_flight':
        throw inFlight()
      case 'replay':
        return { submission: claim.submission, replayed: true }
    }

    sending = true
    const result = await outbound!.finish({ fileTypes: checked.fileTypes, ddqId })
    const done = services.now()
    if (result.ok)
      return {
        submission: await finishSubmission(services.db, claim.submission.id, { status: 'submitted' }, done),
        replayed: false,
      }
    const error = result.error
    await finishSubmission(
      services.db,
      claim.submission.id,
      {
        status: isTransient(error.kind) ? 'failed' : 'rejected',
        failureCode:
          error.kind === 'not_found' ? 'user_not_found' : error.mayHaveTakenEffect ? UNCONFIRMED : error.kind,
        failureMessage: error.message,
      },
      done,
    )
    if (error.kind === 'not_found') {
      throw new Problem('user_not_found', {
        detail: `sFOX has no end user "${input.userId}" for this partner.`,
        extensions: {
          provider_error: { provider: 'sfox', status: error.status, code: error.code, message: error.message },
        },
      })
    }
    throw problemFor(error, {}, retryDetailOf(error))
  } finally {
    if (!sending) outbound?.discard()
  }
}

/** A submission sent to sFOX whole but never answered: sFOX may hold the documents. */
const UNCONFIRMED = 'timeout_after_upload'

/** What a retry under the same Idempotency-Key does after an outage (sFOX has no lookup to check first). */
const retryDetailOf = (error: ProviderError): string | undefined => {
  if (error.mayHaveTakenEffect)
    return 'sFOX was sent the whole upload but did not answer in time: it may have recorded the documents. sFOX offers no way to look a submission up, so a retry under the same Idempotency-Key sends them again.'
  if (error.kind === 'timeout')
    return 'sFOX stopped reading the upload, so it was cut off unfinished and sFOX records nothing for it; retrying under the same Idempotency-Key is safe.'
  if (error.kind === 'unavailable')
    return 'sFOX could not be reached or failed; the submission is recorded failed, and a retry under the same Idempotency-Key sends it again.'
  return undefined
}

const keyReused = () =>
  new Problem('idempotency_key_reused', { detail: 'This Idempotency-Key was used for a different submission.' })
const inFlight = () =>
  new Problem('submission_in_flight', {
    detail: 'A submission with this Idempotency-Key is still being sent; retry shortly.',
    headers: { 'retry-after': '2' },
  })

/**
 * A retry under a key whose submission has an answer or is being sent, as claimSubmission would
 * judge it. Its lease may have run out meanwhile: then the retry after it sends the files.
 */
const replayOf = async (services: Services, partner: PartnerContext, idempotencyKey: string, requestHash: string) => {
  const found = await findByIdempotencyKey(services.db, partner, idempotencyKey)
  if (!found || isResumable(found, services.now())) throw inFlight()
  if (found.requestHash !== requestHash) throw keyReused()
  if (found.status === 'submitting') throw inFlight()
  return { submission: found, replayed: true }
}
