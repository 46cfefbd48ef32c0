import type { Handler } from 'hono'
import { findSubmission, listSubmissions } from '../../documents/submission-store'
import { submitDocuments } from '../../documents/submit'
import { fieldProblem, Problem } from '../../lib/problem'
import type { AppEnv } from '../../middleware/app-env'
import { renderSubmission } from '../../schemas/documents'
import { pageAfterKnownCursor } from '../cursor'
import type { AppRouteHandler } from '../router'
import type * as routes from './documents.routes'

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/** Reads the multipart body itself (workerd's parser, no second copy) instead of a validator. */
const readForm = async (request: Request) => {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'multipart/form-data')
    throw new Problem('unsupported_media_type', { detail: 'Send the documents as multipart/form-data.' })
  try {
    return await request.formData()
  } catch {
    throw new Problem('malformed_multipart', { detail: 'The multipart body could not be read.' })
  }
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
  const form = await readForm(c.req.raw)
  const ddq = form.get('ddq_id')
  if (ddq !== null && (typeof ddq !== 'string' || ddq.length > 64)) {
    throw fieldProblem(
      'ddq_id',
      { code: 'invalid', message: 'at most 64 characters' },
      'ddq_id must be text of at most 64 characters.',
    )
  }
  const fileTypes = form.get('file_types')
  const { submission, replayed } = await submitDocuments(c.var.services, c.var.partner, {
    userId,
    idempotencyKey,
    files: (form.getAll('files') as unknown as (File | string)[]).filter(
      (part): part is File => typeof part !== 'string',
    ),
    fileTypesRaw: typeof fileTypes === 'string' ? fileTypes : null,
    ddqId: typeof ddq === 'string' && ddq !== '' ? ddq : null,
  })
  return c.json(renderSubmission(submission), replayed ? 200 : 202)
}

export const getOne: AppRouteHandler<typeof routes.getOne> = async (c) => {
  const submission = await findSubmission(c.var.services.db, c.var.partner, c.req.valid('param').id)
  if (!submission) {
    throw new Problem('document_submission_not_found', {
      detail: `No document submission with id "${c.req.valid('param').id}".`,
    })
  }
  return c.json(renderSubmission(submission), 200)
}

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const { limit, starting_after } = c.req.valid('query')
  const { db } = c.var.services
  const owner = c.var.partner
  const { rows, hasMore } = await pageAfterKnownCursor(
    starting_after,
    async (id) => !!(await findSubmission(db, owner, id)),
    'document submission',
    () => listSubmissions(db, owner, c.req.valid('param').user_id, limit, starting_after),
  )
  return c.json({ object: 'list' as const, data: rows.map(renderSubmission), has_more: hasMore }, 200)
}
