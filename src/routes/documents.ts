import { createRoute, z } from '@hono/zod-openapi'
import { submitDocuments } from '../documents/submit'
import { findSubmission, listSubmissions } from '../documents/submission-store'
import { partnerAuth } from '../middleware/auth'
import { rateLimit } from '../middleware/rate-limit'
import { fieldProblem, Problem } from '../lib/problem'
import { createRouter } from './router'
import { pageAfterKnownCursor } from './cursor'
import { problemResponse } from '../schemas/common'
import { json, partnerSecurity } from './describe'
import { SubmissionList, SubmissionListQuery, SubmissionResource, UploadForm, renderSubmission } from '../schemas/documents'

const security = partnerSecurity
const tags = ['Documents']
const userParams = z.object({ user_id: z.string().min(1).max(128).openapi({ param: { name: 'user_id', in: 'path' }, example: 'user-42' }) })

const upload = createRoute({
  operationId: 'submitDocuments',
  method: 'post',
  path: '/users/{user_id}/documents',
  tags,
  security,
  summary: "Submit an end user's KYC documents to sFOX",
  description:
    'Checked first exactly as sFOX does (every failure listed, each naming its file), then forwarded to sFOX. ' +
    'Send an Idempotency-Key header to make a retry return the first result instead of sending the files twice.',
  request: {
    params: userParams,
    headers: z.object({ 'idempotency-key': z.string().optional().openapi({ description: '1–255 visible ASCII characters.' }) }),
    body: { required: true, content: { 'multipart/form-data': { schema: UploadForm } } },
  },
  responses: {
    202: json(SubmissionResource, 'Accepted by sFOX.'),
    200: json(SubmissionResource, 'A replay (same Idempotency-Key and files): the first result.'),
    400: problemResponse('Not a readable multipart body (`malformed_multipart`).'),
    401: problemResponse('Missing or invalid API key.'),
    404: problemResponse('sFOX has no such end user (`user_not_found`).'),
    409: problemResponse('The first request with this Idempotency-Key is still being sent (`submission_in_flight`).'),
    413: problemResponse('Over the total size limit.'),
    415: problemResponse('Not multipart/form-data.'),
    422: problemResponse('A document failed a check (`invalid_request`, errors per file), sFOX refused it (`provider_rejected`), or the key was reused (`idempotency_key_reused`).'),
    502: problemResponse('sFOX failed (`provider_unavailable`).'),
    504: problemResponse('sFOX did not answer in time (`provider_timeout`).'),
  },
})

const getOne = createRoute({
  operationId: 'getDocumentSubmission',
  method: 'get',
  path: '/document-submissions/{id}',
  tags,
  security,
  summary: 'Retrieve a document submission',
  request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: { 200: json(SubmissionResource, 'The submission.'), 401: problemResponse('Missing or invalid API key.'), 404: problemResponse('No such submission.') },
})

const list = createRoute({
  operationId: 'listDocumentSubmissions',
  method: 'get',
  path: '/users/{user_id}/document-submissions',
  tags,
  security,
  summary: "List an end user's document submissions, newest first",
  request: { params: userParams, query: SubmissionListQuery },
  responses: { 200: json(SubmissionList, 'A page of submissions.'), 401: problemResponse('Missing or invalid API key.'), 422: problemResponse('Invalid request.') },
})

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

/** Reads the multipart body itself (workerd's parser, no second copy) instead of a validator. */
const readForm = async (request: Request) => {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'multipart/form-data') throw new Problem('unsupported_media_type', { detail: 'Send the documents as multipart/form-data.' })
  try {
    return await request.formData()
  } catch {
    throw new Problem('malformed_multipart', { detail: 'The multipart body could not be read.' })
  }
}

const router = createRouter()
router.use(partnerAuth, rateLimit)

// The upload route is documented in the OpenAPI registry but validated by hand: a validator would
// buffer the whole multipart body a second time.
router.openAPIRegistry.registerPath(upload)
router.post('/users/:user_id/documents', async (c) => {
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
    throw fieldProblem('ddq_id', { code: 'invalid', message: 'at most 64 characters' }, 'ddq_id must be text of at most 64 characters.')
  }
  const fileTypes = form.get('file_types')
  const { submission, replayed } = await submitDocuments(c.var.services, c.var.partner, {
    userId,
    idempotencyKey,
    files: (form.getAll('files') as unknown as (File | string)[]).filter((part): part is File => typeof part !== 'string'),
    fileTypesRaw: typeof fileTypes === 'string' ? fileTypes : null,
    ddqId: typeof ddq === 'string' && ddq !== '' ? ddq : null,
  })
  return c.json(renderSubmission(submission), replayed ? 200 : 202)
})

export const documentsRouter = router
  .openapi(getOne, async (c) => {
    const submission = await findSubmission(c.var.services.db, c.var.partner.id, c.req.valid('param').id)
    if (!submission) throw new Problem('document_submission_not_found', { detail: `No document submission with id "${c.req.valid('param').id}".` })
    return c.json(renderSubmission(submission), 200)
  })
  .openapi(list, async (c) => {
    const { limit, starting_after } = c.req.valid('query')
    const { db } = c.var.services
    const partnerId = c.var.partner.id
    const { rows, hasMore } = await pageAfterKnownCursor(
      starting_after,
      async (id) => !!(await findSubmission(db, partnerId, id)),
      'document submission',
      () => listSubmissions(db, partnerId, c.req.valid('param').user_id, limit, starting_after),
    )
    return c.json({ object: 'list' as const, data: rows.map(renderSubmission), has_more: hasMore }, 200)
  })
