import { describe, expect, it } from 'vitest'
import { type UploadedFile, validateDocuments } from '../../src/documents/validation'
import { boundaryOf, MalformedMultipart, type MultipartEvent, readMultipart } from '../../src/lib/multipart-stream'
import { DOCUMENT_LIMITS } from '../../src/schemas/documents'

const pdf = (name = 'a.pdf', size = 100): UploadedFile => ({
  name,
  contentType: 'application/pdf',
  size,
  head: new Uint8Array([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31]),
})
const png = (name = 'b.png'): UploadedFile => ({
  name,
  contentType: 'image/png',
  size: 100,
  head: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
})
const jpg = (name = 'c.jpeg', contentType = 'image/jpeg'): UploadedFile => ({
  name,
  contentType,
  size: 100,
  head: new Uint8Array([0xff, 0xd8, 0xff, 0xe1]),
})
const codes = (result: ReturnType<typeof validateDocuments>) =>
  result.ok ? [] : result.errors.map((e) => `${e.file ?? e.field}:${e.code}`)

describe('document checks', () => {
  it('accepts well-formed uploads and returns the types', () => {
    expect(
      validateDocuments(
        [pdf(), png(), jpg(), jpg('d.JPG')],
        JSON.stringify({ 'a.pdf': 'ID', 'b.png': 'PoR', 'c.jpeg': 'ID', 'd.JPG': 'PoR' }),
      ),
    ).toEqual({
      ok: true,
      fileTypes: { 'a.pdf': 'ID', 'b.png': 'PoR', 'c.jpeg': 'ID', 'd.JPG': 'PoR' },
    })
    expect(validateDocuments([jpg('x.jpg', 'image/jpeg; charset=binary')], '{"x.jpg":"ID"}').ok).toBe(true)
  })

  it('checks extension, declared type, their agreement and the first bytes', () => {
    expect(codes(validateDocuments([{ ...pdf('a.doc') }], '{"a.doc":"ID"}'))).toEqual(['a.doc:extension_not_allowed'])
    expect(codes(validateDocuments([{ ...pdf(), contentType: 'application/octet-stream' }], '{"a.pdf":"ID"}'))).toEqual(
      ['a.pdf:content_type_not_allowed'],
    )
    expect(codes(validateDocuments([{ ...pdf(), contentType: 'image/png' }], '{"a.pdf":"ID"}'))).toEqual([
      'a.pdf:content_type_mismatch',
    ])
    expect(codes(validateDocuments([{ ...pdf(), head: new Uint8Array([0x4d, 0x5a]) }], '{"a.pdf":"ID"}'))).toEqual([
      'a.pdf:content_mismatch',
    ])
    expect(
      codes(validateDocuments([{ ...png(), head: new Uint8Array([0xff, 0xd8, 0xff]) }], '{"b.png":"PoR"}')),
    ).toEqual(['b.png:content_mismatch'])
  })

  it('checks sizes and counts at their exact limits', () => {
    expect(validateDocuments([pdf('a.pdf', DOCUMENT_LIMITS.maxFileBytes)], '{"a.pdf":"ID"}').ok).toBe(true)
    expect(codes(validateDocuments([pdf('a.pdf', DOCUMENT_LIMITS.maxFileBytes + 1)], '{"a.pdf":"ID"}'))).toEqual([
      'a.pdf:file_too_large',
    ])
    const ten = Array.from({ length: 10 }, (_, i) => pdf(`f${i}.pdf`))
    const types = (files: UploadedFile[]) => JSON.stringify(Object.fromEntries(files.map((f) => [f.name, 'ID'])))
    expect(validateDocuments(ten, types(ten)).ok).toBe(true)
    const eleven = [...ten, pdf('f10.pdf')]
    expect(codes(validateDocuments(eleven, types(eleven)))).toEqual(['files:too_many_files'])
    const heavy = [pdf('a.pdf', 7_000_000), pdf('b.pdf', 7_000_000), pdf('c.pdf', 7_000_000)]
    expect(codes(validateDocuments(heavy, types(heavy)))).toEqual(['files:total_too_large'])
  })

  it('matches file_types to file names exactly, both ways', () => {
    expect(codes(validateDocuments([pdf()], '{"A.pdf":"ID"}'))).toEqual([
      'a.pdf:missing_file_type',
      'A.pdf:unknown_file_name',
    ])
    expect(codes(validateDocuments([pdf()], '{"a.pdf":"id"}'))).toEqual(['a.pdf:invalid_document_type'])
    expect(codes(validateDocuments([pdf()], '{"a.pdf":null}'))).toEqual(['a.pdf:invalid_document_type'])
  })

  it('explains a missing or unreadable file_types, and missing files', () => {
    expect(codes(validateDocuments([pdf()], null))).toEqual(['file_types:required'])
    for (const raw of ['', 'ID', '[]', '"x"', '{"a.pdf": "ID"'])
      expect(codes(validateDocuments([pdf()], raw)), raw).toEqual(['file_types:invalid_json'])
    expect(codes(validateDocuments([], '{}'))).toEqual(['files:required'])
  })

  it('refuses unsafe and duplicate names', () => {
    expect(codes(validateDocuments([pdf('../etc/passwd.pdf')], '{"../etc/passwd.pdf":"ID"}'))).toEqual([
      '../etc/passwd.pdf:invalid_file_name',
    ])
    expect(codes(validateDocuments([pdf('my "id".pdf')], '{"my \\"id\\".pdf":"ID"}'))).toEqual([
      'my "id".pdf:invalid_file_name',
    ])
    expect(codes(validateDocuments([pdf(), pdf()], '{"a.pdf":"ID"}'))).toEqual(['a.pdf:duplicate_file_name'])
  })
})

describe('names that cannot be URI-encoded as they are', () => {
  it('a lone surrogate in a file_types key still gives a pointer', () => {
    const result = validateDocuments([pdf()], JSON.stringify({ 'a.pdf': 'ID', '\ud800': 'ID' }))
    expect(result.ok).toBe(false)
    if (!result.ok)
      expect(result.errors).toEqual([
        expect.objectContaining({ code: 'unknown_file_name', pointer: '/file_types/%EF%BF%BD' }),
      ])
  })
})

describe('document checks while the submission arrives', () => {
  const arriving = (files: UploadedFile[], raw: string | null) =>
    codes(validateDocuments(files, raw, DOCUMENT_LIMITS.maxFileBytes, { arriving: true }))

  it('leaves out what a later part may still settle', () => {
    // No files yet, no file_types yet, a key whose file may still come, a file still arriving.
    expect(arriving([], null)).toEqual([])
    expect(arriving([pdf()], '{"a.pdf":"ID","later.png":"PoR"}')).toEqual([])
    expect(arriving([{ ...pdf('a.pdf', 0), head: new Uint8Array(0), complete: false }], '{"a.pdf":"ID"}')).toEqual([])
    expect(arriving([{ ...pdf(), head: new Uint8Array([0x25, 0x50]), complete: false }], null)).toEqual([])
  })

  it('names at once what no later part can undo', () => {
    expect(arriving([{ ...pdf(), head: new Uint8Array([0x4d, 0x5a, 0, 0, 0]), complete: false }], null)).toEqual([
      'a.pdf:content_mismatch',
    ])
    expect(arriving([{ ...pdf('a.pdf', DOCUMENT_LIMITS.maxFileBytes + 1), complete: false }], null)).toEqual([
      'a.pdf:file_too_large',
    ])
    expect(arriving([pdf('x.gif')], null)).toEqual(['x.gif:extension_not_allowed'])
    expect(arriving([pdf()], '{"a.pdf":"Selfie"}')).toEqual(['a.pdf:invalid_document_type'])
    expect(arriving([pdf(), png()], '{"a.pdf":"ID"}')).toEqual(['b.png:missing_file_type'])
    expect(arriving([pdf()], '[1]')).toEqual(['file_types:invalid_json'])
    expect(arriving([{ ...pdf('a.pdf', 0), head: new Uint8Array(0) }], null)).toEqual([
      'a.pdf:content_mismatch',
      'a.pdf:file_empty',
    ])
  })
})

const enc = new TextEncoder()
/** The body split into chunks at the given offsets, as a stream; `bytes` makes it a byte stream (read BYOB, as workerd's bodies are). */
const streamOf = (bytes: Uint8Array, cuts: number[] = [], kind: 'default' | 'bytes' = 'default') => {
  const points = [0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length]
  const start = (controller: { enqueue: (chunk: Uint8Array) => void; close: () => void }) => {
    for (let i = 1; i < points.length; i++) controller.enqueue(bytes.slice(points[i - 1], points[i]))
    controller.close()
  }
  return kind === 'bytes'
    ? (new ReadableStream({ type: 'bytes', start }) as ReadableStream<Uint8Array>)
    : new ReadableStream<Uint8Array>({ start })
}
/** The parts as [name, filename, type, text of the bytes], data chunks joined. */
const parse = async (body: ReadableStream<Uint8Array>, boundary: string) => {
  const parts: [string, string | null, string, string][] = []
  const chunks: Uint8Array[][] = []
  for await (const event of readMultipart(body, boundary) as AsyncGenerator<MultipartEvent>) {
    if (event.type === 'part') {
      parts.push([event.head.name, event.head.filename, event.head.contentType, ''])
      chunks.push([])
    } else chunks.at(-1)!.push(event.bytes)
  }
  return parts.map((p, i) => {
    p[3] = Buffer.concat(chunks[i]!).toString('latin1')
    return p
  })
}

describe('streaming multipart parser', () => {
  const boundary = 'xYz-7'
  // The body carries near-boundaries: a CR LF, "--xYz" without the rest, a lone CR at a chunk's end.
  const file = `%PDF-1.7\r\n--xYz-\r\r\n--xY\r`
  const body = enc.encode(
    `preamble\r\n--${boundary}\r\nContent-Disposition: form-data; name="file_types"\r\n\r\n{"a.pdf":"ID"}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n${file}\r\n` +
      `--${boundary}--\r\nepilogue`,
  )
  const expected = [
    ['file_types', null, '', '{"a.pdf":"ID"}'],
    ['files', 'a.pdf', 'application/pdf', file],
  ]

  it.each(['default', 'bytes'] as const)(
    'gives the same parts however a %s stream is cut into chunks',
    async (kind) => {
      expect(await parse(streamOf(body, [], kind), boundary)).toEqual(expected)
      for (let cut = 1; cut < body.length; cut++) {
        expect(await parse(streamOf(body, [cut], kind), boundary), `cut at ${cut}`).toEqual(expected)
      }
      const everyByte = Array.from({ length: body.length }, (_, i) => i)
      expect(await parse(streamOf(body, everyByte, kind), boundary)).toEqual(expected)
    },
  )

  it('passes a large part through in the chunks it came in, without joining them', async () => {
    const big = new Uint8Array(3 * 1024 * 1024).fill(0x41)
    const head = enc.encode(`--b\r\nContent-Disposition: form-data; name="files"; filename="x.pdf"\r\n\r\n`)
    const tail = enc.encode('\r\n--b--\r\n')
    const whole = new Uint8Array(head.length + big.length + tail.length)
    whole.set(head)
    whole.set(big, head.length)
    whole.set(tail, head.length + big.length)
    const cuts = Array.from({ length: 48 }, (_, i) => (i + 1) * 65_536)
    let largest = 0
    let total = 0
    for await (const event of readMultipart(streamOf(whole, cuts), 'b')) {
      if (event.type === 'data') {
        largest = Math.max(largest, event.bytes.length)
        total += event.bytes.length
      }
    }
    expect(total).toBe(big.length)
    expect(largest).toBeLessThanOrEqual(65_536 + 64)
  })

  it('refuses bodies that break the format', async () => {
    const broken = [
      `--${boundary}\r\nContent-Disposition: form-data; name="files"\r\n\r\nno closing boundary`,
      `--${boundary}\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n--${boundary}--\r\n`,
      `--${boundary}\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--${boundary}--\r\n`,
      `--${boundary}-other\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--${boundary}-other--\r\n`,
      'no boundary at all',
      '',
    ]
    for (const text of broken)
      await expect(parse(streamOf(enc.encode(text)), boundary), text).rejects.toBeInstanceOf(MalformedMultipart)
  })

  it('reads the boundary of a Content-Type, quoted or not', () => {
    expect(boundaryOf('multipart/form-data; boundary=abc')).toBe('abc')
    expect(boundaryOf('MULTIPART/FORM-DATA; BOUNDARY="a b;c"')).toBe('a b;c')
    expect(boundaryOf('multipart/form-data')).toBeNull()
    expect(boundaryOf(`multipart/form-data; boundary=${'a'.repeat(71)}`)).toBeNull()
  })
})
