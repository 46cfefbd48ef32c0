import type { SubmittedFile } from '../../db/schema'
import { sha256Hex } from '../lib/crypto'
import { toHex } from '../lib/encoding'
import { stableJson } from '../lib/json'
import { Problem } from '../lib/problem'
import { problemFor } from '../providers/problems'
import { isTransient } from '../providers/provider'
import type { PartnerContext, Services } from '../services'
import { claimSubmission, finishSubmission } from './submission-store'
import { type UploadedFile, validateDocuments } from './validation'

// Longer than the upload to sFOX may take; a replay after that may take the submission over.
const leaseMs = (services: Services) => services.settings.PROVIDER_UPLOAD_TIMEOUT_MS + 10_000

/** SHA-256 of a file, streamed through the digest (workerd's DigestStream): no second copy in memory. */
const digestOf = async (file: File): Promise<string> => {
  // (Typed through workers-types: the Node-side type-check of shared code knows only Node's crypto.)
  const digest = new (crypto as unknown as { DigestStream: typeof DigestStream }).DigestStream('SHA-256')
  await file.stream().pipeTo(digest)
  return toHex(await digest.digest)
}

export type DocumentsInput = {
  userId: string
  idempotencyKey: string | null
  files: File[]
  fileTypesRaw: string | null
  ddqId: string | null
}

/**
 * Checks the documents exactly as sFOX would, records what was sent (never the contents) and
 * forwards them as multipart to the partner's sFOX connection. With an Idempotency-Key a retry
 * returns the first result instead of sending the files again.
 */
export const submitDocuments = async (services: Services, partner: PartnerContext, input: DocumentsInput) => {
  const provider = await services.providerFor(partner, 'sfox')
  const uploaded: UploadedFile[] = await Promise.all(
    input.files.map(async (f) => ({
      name: f.name,
      contentType: f.type,
      size: f.size,
      head: new Uint8Array(await f.slice(0, 8).arrayBuffer()),
    })),
  )
  const checked = validateDocuments(uploaded, input.fileTypesRaw, services.settings.DOCUMENT_MAX_FILE_BYTES)
  if (!checked.ok) {
    const first = checked.errors[0]!
    throw new Problem('invalid_request', {
      detail: `The documents were not sent: ${first.file ? `${first.file}: ` : ''}${first.message}${checked.errors.length > 1 ? ` (and ${checked.errors.length - 1} more)` : ''}.`,
      extensions: { errors: checked.errors },
    })
  }

  const files: SubmittedFile[] = await Promise.all(
    input.files.map(async (f) => ({
      name: f.name,
      type: checked.fileTypes[f.name]!,
      content_type: f.type.split(';')[0]!.trim().toLowerCase() as SubmittedFile['content_type'],
      size: f.size,
      sha256: await digestOf(f),
    })),
  )
  const requestHash = await sha256Hex(stableJson({ user_id: input.userId, ddq_id: input.ddqId, files }))
  const now = services.now()
  const claim = await claimSubmission(
    services.db,
    {
      owner: partner,
      userId: input.userId,
      ddqId: input.ddqId,
      idempotencyKey: input.idempotencyKey,
      requestHash,
      files,
    },
    now,
    leaseMs(services),
  )
  switch (claim.kind) {
    case 'conflict':
      throw new Problem('idempotency_key_reused', {
        detail: 'This Idempotency-Key was used for a different submission.',
      })
    case 'in_flight':
      throw new Problem('submission_in_flight', {
        detail: 'A submission with this Idempotency-Key is still being sent; retry shortly.',
        headers: { 'retry-after': '2' },
      })
    case 'replay':
      return { submission: claim.submission, replayed: true }
  }

  const result = await provider.uploadDocuments!({
    userId: input.userId,
    ddqId: input.ddqId,
    files: input.files,
    fileTypes: checked.fileTypes,
  })
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
      failureCode: error.kind === 'not_found' ? 'user_not_found' : error.kind,
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
  throw problemFor(error)
}
