import { DOCUMENT_LIMITS, DOCUMENT_TYPES, type DocumentType, sentFileName } from '../schemas/documents'

/**
 * The checks sFOX's Submit Documents page states (source-docs 002: extension one of jpg, jpeg, png, pdf;
 * MIME type image/jpeg, image/png or application/pdf; every file named exactly in file_types, as ID or
 * PoR), made first by the gateway so a bad upload is refused with every problem named, before anything
 * leaves for sFOX. The gateway's own on top (sFOX states none of them): the per-file size limit
 * (DOCUMENT_MAX_FILE_BYTES), the file count and total size (DOCUMENT_LIMITS), and that each file's first
 * bytes match its type. Pure: it looks at names, declared types, sizes and each file's first bytes.
 * While a submission is still arriving (`arriving`), it names only the problems no later part can
 * undo, so an upload can be stopped at the first of them.
 */
const KINDS = {
  jpg: { mime: 'image/jpeg', magic: [0xff, 0xd8, 0xff], label: 'a JPEG image' },
  jpeg: { mime: 'image/jpeg', magic: [0xff, 0xd8, 0xff], label: 'a JPEG image' },
  png: { mime: 'image/png', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], label: 'a PNG image' },
  pdf: { mime: 'application/pdf', magic: [0x25, 0x50, 0x44, 0x46, 0x2d], label: 'a PDF document' },
} as const
const MIMES = ['image/jpeg', 'image/png', 'application/pdf']

/** `complete: false` while the file's bytes are still arriving (its size so far, its first bytes so far). */
export type UploadedFile = { name: string; contentType: string; size: number; head: Uint8Array; complete?: boolean }
export type DocumentError = { field: string; pointer: string; code: string; message: string; file?: string }

/** Names come from the client: one with a lone surrogate cannot be URI-encoded as it is. */
const pointerSegment = (name: string) =>
  encodeURIComponent(name.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'))

const fileError = (file: string, code: string, message: string): DocumentError => ({
  field: `files[${file}]`,
  pointer: `/files/${pointerSegment(file)}`,
  code,
  message,
  file,
})

const extensionOf = (name: string) => {
  const dot = name.lastIndexOf('.')
  return dot < 0 ? '' : name.slice(dot + 1).toLowerCase()
}

const parseFileTypes = (raw: string | null): Record<string, unknown> | null => {
  if (raw === null) return null
  try {
    const value: unknown = JSON.parse(raw)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

export type Validated = { ok: true; fileTypes: Record<string, DocumentType> } | { ok: false; errors: DocumentError[] }

export const validateDocuments = (
  files: UploadedFile[],
  fileTypesRaw: string | null,
  maxFileBytes: number = DOCUMENT_LIMITS.maxFileBytes,
  { arriving = false }: { arriving?: boolean } = {},
): Validated => {
  const errors: DocumentError[] = []
  if (files.length === 0 && !arriving) {
    errors.push({
      field: 'files',
      pointer: '/files',
      code: 'required',
      message: 'attach at least one file as a "files" part',
    })
  }
  if (files.length > DOCUMENT_LIMITS.maxFiles) {
    errors.push({
      field: 'files',
      pointer: '/files',
      code: 'too_many_files',
      message: `at most ${DOCUMENT_LIMITS.maxFiles} files per submission`,
    })
  }
  const fileTypes = parseFileTypes(fileTypesRaw)
  if (fileTypesRaw === null && !arriving) {
    errors.push({
      field: 'file_types',
      pointer: '/file_types',
      code: 'required',
      message: 'send a "file_types" part: JSON {"<file name>": "ID" | "PoR"}',
    })
  } else if (fileTypesRaw !== null && !fileTypes) {
    errors.push({
      field: 'file_types',
      pointer: '/file_types',
      code: 'invalid_json',
      message: 'must be a JSON object {"<file name>": "ID" | "PoR"}',
    })
  }

  const seen = new Set<string>()
  let total = 0
  for (const file of files) {
    total += file.size
    const name = file.name
    // A double quote would reach sFOX escaped in the multipart header (not as file_types names it).
    if (!name || name.length > 255 || /[/\\"\u0000-\u001f\u007f]/.test(name)) {
      errors.push(
        fileError(
          name,
          'invalid_file_name',
          'file names must be 1–255 characters without slashes, double quotes or control characters',
        ),
      )
      continue
    }
    // Extensions reach sFOX in lower case (sentFileName): ID.PNG and ID.png would arrive as one name.
    const sent = sentFileName(name)
    if (seen.has(sent)) {
      errors.push(
        fileError(name, 'duplicate_file_name', `two files are named "${sent}"; file_types needs unique names`),
      )
      continue
    }
    seen.add(sent)
    const ext = extensionOf(name)
    const kind = KINDS[ext as keyof typeof KINDS]
    const declared = file.contentType.split(';')[0]!.trim().toLowerCase()
    if (!kind) {
      errors.push(
        fileError(name, 'extension_not_allowed', `extension "${ext}" is not allowed; use jpg, jpeg, png or pdf`),
      )
    } else if (!MIMES.includes(declared)) {
      errors.push(
        fileError(
          name,
          'content_type_not_allowed',
          `content type "${declared || '(none)'}" is not allowed; use image/jpeg, image/png or application/pdf`,
        ),
      )
    } else if (declared !== kind.mime) {
      errors.push(
        fileError(name, 'content_type_mismatch', `a .${ext} file must be sent as ${kind.mime}, not ${declared}`),
      )
    } else if (
      (file.complete !== false || file.head.length >= kind.magic.length) &&
      !kind.magic.every((byte, i) => file.head[i] === byte)
    ) {
      errors.push(fileError(name, 'content_mismatch', `the file's contents are not ${kind.label}`))
    }
    if (file.size === 0 && file.complete !== false) errors.push(fileError(name, 'file_empty', 'the file is empty'))
    if (file.size > maxFileBytes) {
      errors.push(
        fileError(
          name,
          'file_too_large',
          `the file is ${file.size} bytes; this gateway accepts at most ${maxFileBytes} per file (DOCUMENT_MAX_FILE_BYTES)`,
        ),
      )
    }
    if (fileTypes) {
      const type = fileTypes[name]
      if (type === undefined) {
        errors.push(fileError(name, 'missing_file_type', `file_types has no entry for "${name}"`))
      } else if (!DOCUMENT_TYPES.includes(type as DocumentType)) {
        errors.push(
          fileError(
            name,
            'invalid_document_type',
            `document type ${JSON.stringify(type)} is not allowed; use ID or PoR`,
          ),
        )
      }
    }
  }
  // A file of that name may still arrive.
  if (fileTypes && !arriving) {
    for (const key of Object.keys(fileTypes)) {
      if (!files.some((f) => f.name === key)) {
        errors.push({
          field: `file_types.${key}`,
          pointer: `/file_types/${pointerSegment(key)}`,
          code: 'unknown_file_name',
          message: `no uploaded file is named "${key}" (names must match exactly)`,
          file: key,
        })
      }
    }
  }
  if (total > DOCUMENT_LIMITS.maxTotalBytes) {
    errors.push({
      field: 'files',
      pointer: '/files',
      code: 'total_too_large',
      message: `all files together are ${total} bytes; at most ${DOCUMENT_LIMITS.maxTotalBytes} (20 MB)`,
    })
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, fileTypes: fileTypes as Record<string, DocumentType> }
}
