import { createHash } from 'node:crypto'
import type { Hono } from 'hono'
import type { SfoxEnv } from './auth'
import { sfoxErrors } from './errors'
import { fail } from './http'
import type { SfoxSettings } from './settings'
import type { SfoxState } from './state'

// [DOC] page 002: "File extension must be one of jpg, jpeg, png, pdf.", "The supported MIME types for document
// submission are image/jpeg, image/png, application/pdf", document types "ID" and "PoR".
const allowedExtensions = ['jpg', 'jpeg', 'png', 'pdf']
const allowedMimes = ['image/jpeg', 'image/png', 'application/pdf']
const documentTypes = ['ID', 'PoR']

const extensionOf = (name: string) => {
  const dot = name.lastIndexOf('.')
  return dot < 0 ? '' : name.slice(dot + 1)
}

const formatLimit = (bytes: number) => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MB` : `${bytes} bytes`)

// [INFERRED] a part sent without a Content-Type is reported as multipart's default type.
const DEFAULT_PART_TYPE = 'application/octet-stream'

const parseFileTypes = (raw: FormDataEntryValue | null): Record<string, unknown> | null => {
  if (typeof raw !== 'string') return null
  try {
    const value: unknown = JSON.parse(raw)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/**
 * Page 002 Submit Documents: 202 / 401 / 404 / 422 / 500 as the page gives them. [INFERRED] the validation order
 * (the page lists no order): auth (401, middleware), user exists (404), then per file extension then MIME, then
 * file_types keys, then document types, then sizes (only with the ddq_max_file_bytes setting; page 002 gives no
 * size limit). Only metadata and the sha256 of accepted files are kept.
 */
export const mountDdqRoutes = (app: Hono<SfoxEnv>, state: SfoxState, settings: SfoxSettings) => {
  app.post('/v1/enterprise/ddq/upload', async (c) => {
    const account = c.get('account')
    const mediaType = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
    if (mediaType !== 'multipart/form-data') return fail(c, 400, sfoxErrors.multipartRequired)
    let form: FormData
    try {
      form = await c.req.formData()
    } catch {
      return fail(c, 400, sfoxErrors.malformedBody)
    }

    const userId = form.get('user_id')
    if (typeof userId !== 'string' || !state.isKnownUser(account, userId)) return fail(c, 404, sfoxErrors.userNotFound)

    // [INFERRED] structural problems (no file parts, unreadable file_types) come before the per-file checks.
    const files = form.getAll('files').filter((part): part is File => typeof part !== 'string')
    if (files.length === 0) return fail(c, 422, sfoxErrors.filesRequired)
    const fileTypes = parseFileTypes(form.get('file_types'))
    if (!fileTypes) return fail(c, 422, sfoxErrors.fileTypesInvalid)

    for (const file of files) {
      const ext = extensionOf(file.name)
      // [INFERRED] case: the ddq_extensions_case_sensitive setting (default: exactly the page's lowercase list).
      // The message echoes the extension and the name as sent.
      const comparable = settings.ddq_extensions_case_sensitive ? ext : ext.toLowerCase()
      if (!allowedExtensions.includes(comparable)) return fail(c, 422, sfoxErrors.extensionNotAllowed(ext, file.name))
      // [INFERRED] the declared part Content-Type (parameters dropped, case-insensitive as MIME types are);
      // sFOX may sniff the bytes instead (unknown).
      const declared = file.type || DEFAULT_PART_TYPE
      const mime = declared.split(';')[0]!.trim().toLowerCase()
      if (!allowedMimes.includes(mime)) return fail(c, 422, sfoxErrors.mimeNotAllowed(declared, file.name))
    }

    const names = new Set(files.map((f) => f.name))
    for (const key of Object.keys(fileTypes)) {
      if (!names.has(key)) return fail(c, 422, sfoxErrors.invalidFileName(key))
    }
    // [INFERRED] a file with no file_types entry is reported like an unmatched key.
    for (const file of files) {
      if (!(file.name in fileTypes)) return fail(c, 422, sfoxErrors.invalidFileName(file.name))
    }
    for (const file of files) {
      const type = fileTypes[file.name]
      if (typeof type !== 'string' || !documentTypes.includes(type)) {
        return fail(c, 422, sfoxErrors.invalidDocumentType(String(type)))
      }
    }
    const limit = settings.ddq_max_file_bytes
    for (const file of files) {
      if (limit !== null && file.size > limit) {
        return fail(c, 422, sfoxErrors.fileTooLarge(file.name, formatLimit(limit)))
      }
    }

    const ddqId = form.get('ddq_id')
    const receivedAt = new Date(state.clock.now()).toISOString()
    for (const file of files) {
      const sha256 = createHash('sha256')
        .update(new Uint8Array(await file.arrayBuffer()))
        .digest('hex')
      state.recordUpload({
        account: account.id,
        user_id: userId,
        ddq_id: typeof ddqId === 'string' && ddqId !== '' ? ddqId : null,
        name: file.name,
        mime: file.type,
        size: file.size,
        sha256,
        document_type: fileTypes[file.name] as string,
        received_at: receivedAt,
      })
    }
    return c.json({ message: 'Files uploaded successfully' }, 202)
  })
}
