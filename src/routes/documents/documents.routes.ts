import { createRoute, z } from '@hono/zod-openapi'
import { problemResponse } from '../../schemas/common'
import { SubmissionList, SubmissionListQuery, SubmissionResource, UploadForm } from '../../schemas/documents'
import { json, partnerSecurity } from '../describe'

const security = partnerSecurity
const tags = ['Documents']
const userParams = z.object({
  user_id: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'user_id', in: 'path' }, example: 'user-42' }),
})

export const upload = createRoute({
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
    headers: z.object({
      'idempotency-key': z.string().optional().openapi({ description: '1–255 visible ASCII characters.' }),
    }),
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
    422: problemResponse(
      'A document failed a check (`invalid_request`, errors per file), sFOX refused it (`provider_rejected`), or the key was reused (`idempotency_key_reused`).',
    ),
    502: problemResponse('sFOX failed (`provider_unavailable`).'),
    504: problemResponse('sFOX did not answer in time (`provider_timeout`).'),
  },
})

export const getOne = createRoute({
  operationId: 'getDocumentSubmission',
  method: 'get',
  path: '/document-submissions/{id}',
  tags,
  security,
  summary: 'Retrieve a document submission',
  request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
  responses: {
    200: json(SubmissionResource, 'The submission.'),
    401: problemResponse('Missing or invalid API key.'),
    404: problemResponse('No such submission.'),
  },
})

export const list = createRoute({
  operationId: 'listDocumentSubmissions',
  method: 'get',
  path: '/users/{user_id}/document-submissions',
  tags,
  security,
  summary: "List an end user's document submissions, newest first",
  request: { params: userParams, query: SubmissionListQuery },
  responses: {
    200: json(SubmissionList, 'A page of submissions.'),
    401: problemResponse('Missing or invalid API key.'),
    422: problemResponse('Invalid request.'),
  },
})
