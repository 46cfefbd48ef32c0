import { describe, expect, it } from 'vitest'
import { type UploadedFile, validateDocuments } from '../../src/documents/validation'
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
