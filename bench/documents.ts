import { createHash, randomBytes } from 'node:crypto'
import { expect, type Init, type Transport } from './http'

/** One document of the upload runs: a PDF (it must start with `%PDF-`) of exactly `bytes` bytes. */
export type Document = { name: string; bytes: Uint8Array<ArrayBuffer>; sha256: string }

const PDF_MAGIC = Buffer.from('%PDF-1.7\n')

/** Random bytes after the PDF magic: incompressible, so nothing on the way can shrink them. */
export const pdfOf = (bytes: number, name = 'passport.pdf'): Document => {
  const content = new Uint8Array(Buffer.concat([PDF_MAGIC, randomBytes(Math.max(0, bytes - PDF_MAGIC.length))]))
  return { name, bytes: content, sha256: createHash('sha256').update(content).digest('hex') }
}

/** A multipart body encoded once: every request of a phase sends these same bytes, nothing is re-encoded in the timed op. */
export type Multipart = { contentType: string; body: Uint8Array<ArrayBuffer> }

/**
 * Encodes the form as the integration tests build it (FormData, each document a Blob): `before`,
 * the `files` parts, then their `file_types` ({"<name>": "ID"}), or with `typesFirst` file_types
 * before the files (the order the gateway streams in; after the files, it holds them to the end).
 */
const encode = async (before: [string, string][], docs: Document[], typesFirst = false): Promise<Multipart> => {
  const form = new FormData()
  for (const [name, value] of before) form.append(name, value)
  const types = JSON.stringify(Object.fromEntries(docs.map((doc) => [doc.name, 'ID'])))
  if (typesFirst) form.append('file_types', types)
  for (const doc of docs) form.append('files', new Blob([doc.bytes], { type: 'application/pdf' }), doc.name)
  if (!typesFirst) form.append('file_types', types)
  const encoded = new Response(form)
  return { contentType: encoded.headers.get('content-type')!, body: new Uint8Array(await encoded.arrayBuffer()) }
}

// `redirect: 'error'` with no window spares undici a clone of the request, which tees the body and
// copies every chunk: client work both sides would pay, on the Node thread the sandbox shares.
const init = (m: Multipart, token: string): Init => ({
  method: 'POST',
  redirect: 'error',
  window: null,
  headers: { 'content-type': m.contentType, accept: 'application/json', authorization: `Bearer ${token}` },
  body: m.body,
})

/**
 * POST /v1/users/{user_id}/documents: the documents as `files` after `file_types` naming each an ID
 * (the streamed order). No Idempotency-Key, so every request is a new submission that is sent to
 * sFOX (a replay would not be). The answer must be 202 with the last document's SHA-256 in it: the
 * gateway hashed what was sent.
 */
export const gatewayUpload = async (t: Transport, key: () => string, userId: string, ...docs: Document[]) => {
  const body = await encode([], docs, true)
  const path = `/v1/users/${encodeURIComponent(userId)}/documents`
  const last = docs.at(-1)!
  return () =>
    expect(t.fetch(path, init(body, key())), 202, `${t.name} upload ${last.name}`, `"sha256":"${last.sha256}"`)
}

/** The same document straight to the sFOX sandbox: POST /v1/enterprise/ddq/upload with user_id, files, file_types. */
export const directUpload = async (t: Transport, apiKey: string, userId: string, doc: Document) => {
  const body = await encode([['user_id', userId]], [doc])
  return () =>
    expect(
      t.fetch('/v1/enterprise/ddq/upload', init(body, apiKey)),
      202,
      `sfox upload ${doc.name}`,
      'Files uploaded successfully',
    )
}
