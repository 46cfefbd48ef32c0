import type { Handler } from 'hono'
import { findSubmission, listSubmissions } from '../../documents/submission-store'
import { submitDocuments } from '../../documents/submit'
import { boundaryOf } from '../../lib/multipart-stream'
import { fieldProblem, Problem } from '../../lib/problem'
import type { AppEnv } from '../../middleware/app-env'
import { renderSubmission } from '../../schemas/documents'
import { pageAfterKnownCursor } from '../cursor'
import type { AppRouteHandler } from '../router'
import type * as routes from './documents.routes'

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/** The multipart body, left unread: submitDocuments reads it as it arrives (no validator buffers it). */
const multipartOf = (request: Request) => {
  const contentType = request.headers.get('content-type') ?? ''
  if (contentType.split(';')[0]!.trim().toLowerCase() !== 'multipart/form-data')
    throw new Problem('unsupported_media_type', { detail: 'Send the documents as multipart/form-data.' })
  const boundary = boundaryOf(contentType)
  if (!boundary || !request.body)
    throw new Problem('malformed_multipart', { detail: 'The multipart body could not be read.' })
  return { body: request.body, boundary }
}

/** Validated by hand (see documents.index.ts): the route's contract is documented, not enforced by zod. */
export const upload: Handler<AppEnv, '/users/:user_id/documents'> = async (c) => {
  const userId = c.req.param('user_id')
  if (userId.length > 128) throw new Problem('invalid_request', { detail: 'user_id is at most 128 characters.' })
  const idempotencyKey = c.req.header('idempotency-key') ?? null
  if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw fieldProblem(
      'Idempotency-Key',
      { code: 'invalid', message: '1–255 visible ASCII characters', pointer: '/headers/idempotency-key' },
      'Idempotency-Key must be 1–255 visible ASCII characters.',
    )
  }
  const { submission, replayed } = await submitDocuments(c.get('services'), c.get('partner'), {
    userId,
    idempotencyKey,
    ...multipartOf(c.req.raw),
  })
  return c.json(renderSubmission(submission), replayed ? 200 : 202)
}

export const getOne: AppRouteHandler<typeof routes.getOne> = async (c) => {
  const submission = await findSubmission(c.get('services').db, c.get('partner'), c.req.valid('param').id)
  if (!submission) {
    throw new Problem('document_submission_not_found', {
      detail: `No document submission with id "${c.req.valid('param').id}".`,
    })
  }
  return c.json(renderSubmission(submission), 200)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { limit, starting_after } = c.req.valid('query')
  const { db } = c.get('services')
  const owner = c.get('partner')
  const { rows, hasMore } = await pageAfterKnownCursor(
    starting_after,
    async (id) => !!(await findSubmission(db, owner, id)),
    'document submission',
    () => listSubmissions(db, owner, c.req.valid('param').user_id, limit, starting_after),
  )
  return c.json({ object: 'list' as const, data: rows.map(renderSubmission), has_more: hasMore }, 200)
}
