import { z } from '@hono/zod-openapi'
import type { DocumentSubmission } from '../../db/schema'
import { iso } from '../lib/time'
import { ListQuery, listOf, Timestamp } from './common'

/** What one submission may carry: the gateway's own caps (sFOX documents none). */
export const DOCUMENT_LIMITS = {
  // The gateway's own default per file (DOCUMENT_MAX_FILE_BYTES); sFOX's page states no size limit.
  maxFileBytes: 10 * 1024 * 1024,
  // The gateway's own caps, so an upload fits comfortably in a Worker's 128 MB.
  maxFiles: 10,
  maxTotalBytes: 20 * 1024 * 1024,
} as const

/**
 * The name a file is sent to sFOX under: its extension in lower case, as sFOX's page lists them
 * (jpg, jpeg, png, pdf), so `ID.PNG` is accepted here and sent as `ID.png`.
 */
export const sentFileName = (name: string) => name.replace(/\.[^.]*$/, (ext) => ext.toLowerCase())

export const DOCUMENT_TYPES = ['ID', 'PoR'] as const
export type DocumentType = (typeof DOCUMENT_TYPES)[number]

export const SubmissionResource = z
  .object({
    object: z.literal('document_submission'),
    livemode: z
      .boolean()
      .openapi({ description: 'false in test mode, true in live mode: the mode of the key that made it.' }),
    id: z.string().openapi({ example: 'ds_01jdq1m3v0k6y8x9w2z4c5b7n8' }),
    user_id: z.string(),
    ddq_id: z.string().nullable(),
    provider: z.literal('sfox'),
    status: z.enum(['submitting', 'submitted', 'rejected', 'failed']).openapi({
      description:
        'submitted: sFOX accepted the files; rejected: sFOX refused them; failed: no answer (retry with the same Idempotency-Key).',
    }),
    files: z.array(
      z.object({
        name: z.string(),
        type: z.enum(['ID', 'PoR']),
        content_type: z.enum(['image/jpeg', 'image/png', 'application/pdf']),
        size: z.number().int(),
        sha256: z.string().openapi({ description: 'Hex SHA-256 of the bytes forwarded.' }),
      }),
    ),
    failure: z.object({ code: z.string(), message: z.string() }).nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi('DocumentSubmission', { description: 'What was submitted; file contents are never stored.' })

export const SubmissionList = listOf(SubmissionResource, 'DocumentSubmissionList')
export const SubmissionListQuery = ListQuery

export const UploadForm = z
  .object({
    files: z.array(z.string().openapi({ format: 'binary' })).openapi({
      description: `One or more "files" parts: jpg, jpeg, png or pdf, sent as image/jpeg, image/png or application/pdf; at most ${DOCUMENT_LIMITS.maxFiles} files, ${DOCUMENT_LIMITS.maxFileBytes} bytes each, ${DOCUMENT_LIMITS.maxTotalBytes} in all.`,
    }),
    file_types: z.string().openapi({
      description: 'JSON object mapping every file name (exactly, extension included) to ID or PoR.',
      example: '{"passport.pdf": "ID", "bill.png": "PoR"}',
    }),
    ddq_id: z.string().max(64).optional().openapi({ description: 'The EDD request form this upload belongs to.' }),
  })
  .openapi('DocumentUpload')

/** A submission as partners see it: file names, types, sizes and digests, never contents. */
export const renderSubmission = (s: DocumentSubmission) => ({
  object: 'document_submission' as const,
  livemode: s.mode === 'live',
  id: s.id,
  user_id: s.userId,
  ddq_id: s.ddqId,
  provider: s.provider,
  status: s.status,
  files: s.files,
  failure: s.failureCode ? { code: s.failureCode, message: s.failureMessage ?? s.failureCode } : null,
  created_at: iso(s.createdAt)!,
  updated_at: iso(s.updatedAt)!,
})
