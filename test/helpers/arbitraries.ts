import fc from 'fast-check'

/**
 * fast-check arbitraries of hostile HTTP input: strings, JSON values, JSON texts, header values, path
 * segments, query strings and multipart bodies (shaped like a document upload form). Nothing here
 * knows the gateway's routes or state; the fuzz suite (test/integration/fuzz.test.ts) puts them
 * together per route.
 */

// ---------------------------------------------------------------------------------------------
// JSON text the standard serializer cannot write

/** Literal JSON text spliced into a body as is: numbers JSON.stringify cannot write, deep nesting. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object written entry by entry: the same key twice, or "__proto__" as an ordinary key. */
export class JsonEntries {
  constructor(readonly entries: [string, unknown][]) {}
}

/** JSON text of a value that may hold RawJson and JsonEntries (lone surrogates come out as \udxxx escapes). */
export const toJsonText = (value: unknown): string => {
  if (value instanceof RawJson) return value.text
  if (value instanceof JsonEntries) {
    return `{${value.entries
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`)
      .join(',')}}`
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : toJsonText(v))).join(',')}]`
  if (value !== null && typeof value === 'object') return toJsonText(new JsonEntries(Object.entries(value)))
  return JSON.stringify(value) ?? 'null'
}

/** Sets a property as an own, enumerable one, so "__proto__" is a key and not the prototype. */
const put = (target: Record<string, unknown>, key: string, value: unknown) =>
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })

// ---------------------------------------------------------------------------------------------
// Strings

export const INJECTIONS = [
  "' OR '1'='1",
  "1' OR 1=1--",
  "'; DROP TABLE transfers;--",
  '" OR ""="',
  '1; SELECT * FROM api_keys',
  "' UNION SELECT hash, prefix FROM api_keys--",
  "admin'--",
  '1) OR (1=1',
  "'||(SELECT load_extension('x'))||'",
  "x' AND json_extract(details, '$.a') IS NULL--",
  '%',
  '_',
  '\\',
  "\\'",
  '?',
  ':1',
  '@p',
  '$1',
  '{"$gt":""}',
  '{"$ne":null}',
  '{"$where":"sleep(1000)"}',
  "'; return true; var x='",
  '$(id)',
  '`id`',
  '; cat /etc/passwd',
  '| nc 127.0.0.1 9',
  '&& shutdown -h now',
  '\n/bin/sh -c id',
  '../../../../etc/passwd',
  '..\\..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '....//....//etc/passwd',
  '/etc/passwd\u0000.pdf',
  'file:///etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::1]:8787/admin',
  '//evil.example/',
  'https://user:pass@evil.example/',
  'gopher://127.0.0.1:6379/_FLUSHALL',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  'javascript:alert(1)',
  '{{7*7}}',
  '${7*7}',
  '#{7*7}',
  '<%= 7*7 %>',
  '%s%s%s%n',
  '%x%x%x',
  '\r\nSet-Cookie: a=b',
  'x\r\n\r\nHTTP/1.1 200 OK',
  '*)(uid=*))(|(uid=*',
  "' or count(/*)=1 or '",
  '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__defineGetter__',
  '[object Object]',
  'undefined',
  'null',
  'true',
  'false',
  '{}',
  '[]',
]

export const NUMERIC_STRINGS = [
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-1e309',
  '1e-400',
  '-1',
  '-0',
  '0',
  '0.0',
  '00',
  '0x10',
  '0b11',
  '0o7',
  '1_000',
  '1,5',
  '1.5.5',
  ' 1 ',
  '+1',
  '--1',
  '.5',
  '5.',
  '1e2',
  '1E+2',
  '1e-7',
  '١٢٣',
  '１２３',
  '½',
  '∞',
  '9'.repeat(400),
  `0.${'0'.repeat(400)}1`,
  `1.${'0'.repeat(30)}1`,
  '123456789012345678',
  '999999999999999',
  '1000000000000000',
  '0.000000000000001',
  '9007199254740993',
  String(Number.MAX_VALUE),
  String(Number.MIN_VALUE),
  '1e21',
  '-9223372036854775809',
  '18446744073709551616',
  '1/0',
  '-',
  '.',
  'e',
  '',
]

export const UNICODE_STRINGS = [
  '\u202Eevil\u202C.pdf',
  'שלום עולם',
  'مرحبا بالعالم',
  '\u200B\u200C\u200D\u2060',
  '\uFEFF',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  'e\u0301\u0301\u0301\u0301',
  'Z̴̡̛̹͍a̷l̸g̷o̶',
  'ﷺ',
  'İıß',
  'Ａ',
  '\u0000',
  'a\u0000b',
  '\u0001\u001f\u007f',
  '\u0085\u00a0',
  '\u2028\u2029',
  '\ud800',
  '\udfff',
  'x\ud83dy',
  '\ud83d',
  '\udc00\ud800',
  '\uffff\ufffe',
  '\u{10FFFF}',
  '𝕏𝕐',
  'ユーザー',
  'Ω≈ç√∫',
  '\t\n\r',
  '   ',
  'ÿ',
  '\u00ad',
  'ǅ',
  'ﬃ',
]

export const HOSTILE_STRINGS = [...INJECTIONS, ...NUMERIC_STRINGS, ...UNICODE_STRINGS]

/** Any UTF-16 code unit, lone surrogates and NUL included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: codeUnit, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('a', 'é', '😀', '\u0000', "'", '9', '\ud800'), fc.integer({ min: 65, max: 6000 }))
      .map(([c, n]) => c.repeat(n)),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...HOSTILE_STRINGS), fc.constantFrom(...HOSTILE_STRINGS))
      .map(([a, b]) => a + b),
  },
)

/** Object keys meant to confuse: prototype pollution, empty, unicode, long. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      '__defineSetter__',
      'then',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\ud800',
      '$gt',
      '$where',
      'a.b',
      'a[0]',
      '../x',
      '🙂',
      'x'.repeat(300),
    ),
  },
  { weight: 2, arbitrary: hostileString },
)

// ---------------------------------------------------------------------------------------------
// JSON values

/** Numbers JSON.stringify cannot write, or that do not survive a double: spliced as literal text. */
const RAW_NUMBERS = [
  '1e999',
  '-1e999',
  '-0',
  '0.1e-999',
  '1E400',
  '123456789012345678901234567890',
  '1.00000000000000000000001',
  '0.30000000000000004',
  '9007199254740993',
  '-9007199254740993',
  '1e15',
  '999999999999999.9',
  '4.9e-324',
]

/** `[[[…]]]` or `{"a":{"a":…}}`, n levels deep, as literal JSON text (never built as a JS value). */
export const deepJson = (depth: number, kind: 'array' | 'object') =>
  new RawJson(
    kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
  )

/** A JSON value of any type, biased to the types and sizes schemas refuse. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      1,
      1.5,
      -0.5,
      2 ** 31,
      2 ** 53,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_VALUE,
      Number.MIN_VALUE,
      1e308,
    ),
  },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.constantFrom(...RAW_NUMBERS).map((t) => new RawJson(t)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 20, max: 30_000 }), fc.constantFrom('array' as const, 'object' as const))
      .map(([d, k]) => deepJson(d, k)),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>({}, [], [null], [[]], { $gt: '' }, { $ne: null }, { length: 1e9 }, [
      1,
      'a',
      null,
      {},
    ]),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(hostileKey, hostileString, { maxKeys: 4 }).map((o) => new JsonEntries(Object.entries(o))),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 4 }) },
)

type Path = (string | number)[]

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof RawJson) && !(v instanceof JsonEntries)

/** A private copy (generated constants are shared between runs and must not be edited in place). */
const clone = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(clone)
  if (!isPlainObject(v)) return v
  const out: Record<string, unknown> = {}
  for (const [k, x] of Object.entries(v)) put(out, k, clone(x))
  return out
}

/** Every path into the value through plain objects and arrays, the root included. */
const pathsOf = (value: unknown, at: Path = []): Path[] => {
  const out: Path[] = [at]
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...at, i])))
  else if (isPlainObject(value)) for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...at, k]))
  return out
}

const getAt = (root: unknown, path: Path) => path.reduce<any>((node, key) => node?.[key], root)

/** Returns the new root. */
const setAt = (root: unknown, path: Path, value: unknown): unknown => {
  if (path.length === 0) return value
  const parent = getAt(root, path.slice(0, -1))
  const key = path.at(-1)!
  if (Array.isArray(parent)) parent[key as number] = value
  else put(parent, String(key), value)
  return root
}

/**
 * One edit of a JSON template, as data (so it shrinks and prints), applied by `applyMutations`:
 * `at` picks a path (modulo the number of candidates), so the same edit works on any template.
 */
export type Mutation =
  | { op: 'set'; at: number; value: unknown }
  | { op: 'put'; path: Path; value: unknown }
  | { op: 'delete'; at: number }
  | { op: 'add'; at: number; key: string; value: unknown }
  | { op: 'duplicate'; at: number; key: number; value: unknown; hostileLast: boolean }

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: hostileValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: hostileKey, value: hostileValue }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('duplicate' as const),
      at: fc.nat(),
      key: fc.nat(),
      value: hostileValue,
      hostileLast: fc.boolean(),
    }),
  },
)

/** The template with the edits applied (the template itself is not modified). */
export const applyMutations = (template: unknown, mutations: Mutation[]): unknown => {
  let root = clone(template)
  for (const m of mutations) {
    if (m.op === 'put') {
      // A targeted edit (a boundary value of one field): only where the field's parent exists.
      if (isPlainObject(getAt(root, m.path.slice(0, -1)))) root = setAt(root, m.path, clone(m.value))
      continue
    }
    const paths = pathsOf(root)
    if (m.op === 'set') {
      root = setAt(root, paths[m.at % paths.length]!, clone(m.value))
      continue
    }
    if (m.op === 'delete') {
      const path = paths[m.at % paths.length]!
      if (path.length === 0) root = undefined
      else {
        const parent = getAt(root, path.slice(0, -1))
        if (Array.isArray(parent)) parent.splice(path.at(-1) as number, 1)
        else delete parent[path.at(-1) as string]
      }
      continue
    }
    const objects = paths.filter((p) => isPlainObject(getAt(root, p)))
    if (objects.length === 0) continue
    const path = objects[m.at % objects.length]!
    const object = getAt(root, path) as Record<string, unknown>
    if (m.op === 'add') put(object, m.key, clone(m.value))
    else {
      const entries = Object.entries(object)
      if (entries.length === 0) continue
      const [key] = entries[m.key % entries.length]!
      // The same key twice; JSON.parse keeps the last one.
      entries.splice(m.hostileLast ? entries.length : 0, 0, [key, clone(m.value)])
      root = setAt(root, path, new JsonEntries(entries))
    }
  }
  return root
}

// ---------------------------------------------------------------------------------------------
// JSON texts that are not JSON

const MALFORMED_JSON = [
  '{',
  '}',
  '[',
  '{"a":',
  '{"a" 1}',
  '{"a":1,}',
  '[1,]',
  '{,}',
  "{'a':1}",
  '{a:1}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":undefined}',
  '{"a":01}',
  '{"a":.5}',
  '{"a":+1}',
  '{"a":0x10}',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":"\\uZZZZ"}',
  '{"a":"\u0000"}',
  '{"a":"line\nbreak"}',
  '{"a":"tab\there"}',
  '{"a":1}/*c*/',
  '//c\n{}',
  '{"a":1}{"b":2}',
  '{"a":1} x',
  '"unterminated',
  'nul',
  'tru',
  'True',
  'None',
  '<xml/>',
  '<?xml version="1.0"?><a/>',
  'a=1&b=2',
  '---',
  '\u0000',
  '{"a":1]',
  '[1}',
  '{"__proto__":}',
  '{"a":"\ud800',
  '\\',
  '{"a":1e}',
  '{"a":-}',
  '{"a":1.}',
  '{"a":tru}',
]

/** Text that JSON.parse refuses, whatever bytes workerd decodes it from. */
export const isMalformedJson = (text: string) => {
  if (text.trim() === '' || text.startsWith('\uFEFF')) return false
  try {
    JSON.parse(text)
    return false
  } catch {
    return true
  }
}

/** A broken version of `valid` (truncated, corrupted) or a classic malformed text. */
export const malformedJson = (valid: string): fc.Arbitrary<string> =>
  fc
    .oneof(
      { weight: 3, arbitrary: fc.constantFrom(...MALFORMED_JSON) },
      {
        weight: 3,
        arbitrary: fc.nat().map((n) => valid.slice(0, valid.length > 1 ? 1 + (n % (valid.length - 1)) : 0)),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(
            fc.nat(),
            fc.constantFrom('"', "'", ',', ':', '{', '}', '[', ']', '\\', '\u0000', 'NaN', '\n', '//', 'undefined'),
          )
          .map(([n, s]) => valid.slice(0, n % (valid.length + 1)) + s + valid.slice(n % (valid.length + 1))),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          `${valid},`,
          `${valid}${valid}`,
          `[${valid}`,
          valid.replaceAll('"', "'"),
          `${valid}\u0000`,
        ),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) },
    )
    .filter(isMalformedJson)

/** Bytes that are not valid UTF-8 spliced into a JSON text (workerd decodes them as U+FFFD). */
export const invalidUtf8 = (valid: string): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(
      fc.nat(),
      fc.constantFrom(
        [0xff],
        [0xc3, 0x28],
        [0xc0, 0xaf],
        [0xe0, 0x80, 0xaf],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0x80],
        [0xfe, 0xff],
      ),
    )
    .map(([n, bad]) => {
      const bytes = new TextEncoder().encode(valid)
      const at = n % (bytes.length + 1)
      return new Uint8Array([...bytes.slice(0, at), ...bad, ...bytes.slice(at)])
    })

// ---------------------------------------------------------------------------------------------
// Headers, paths, queries

/** A header value fetch will send: visible ASCII and Latin-1, no CR/LF/NUL, no edge whitespace. */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.string({
      unit: fc
        .integer({ min: 0x21, max: 0xff })
        .filter((c) => c < 0x7f || c >= 0xa1)
        .map((c) => String.fromCharCode(c)),
      maxLength: 40,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(...HOSTILE_STRINGS).map((s) => s.replace(/[^\x21-\x7e\xa1-\xff ]/g, '').trim()),
  },
  { weight: 1, arbitrary: fc.integer({ min: 256, max: 1500 }).map((n) => 'k'.repeat(n)) },
)

export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json;charset=latin1',
  'application/problem+json',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'application/jsonx',
  'text/json',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/xml',
  '*/*',
  'application/',
  'json',
  ';',
  'application/json, text/plain',
]

/** A path segment: mostly percent-encoded hostile text, sometimes raw (slashes, dots, %, ? and # restructure the URL). */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: hostileString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd')).slice(0, 4000)),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '.',
      '..',
      '%2e%2e',
      '%2E',
      '%00',
      '%FF',
      '%E0%A4',
      '%',
      '%%',
      '%zz',
      '%2F',
      '%5C',
      '..%2F..%2Fadmin',
      ';',
      ';a=b',
      '~',
      '*',
      '%20',
      '+',
      '%0d%0a',
      'A'.repeat(3000),
      '',
      '//',
    ),
  },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,70}$/) },
  { weight: 1, arbitrary: fc.webSegment() },
)

/** `?…` from known parameter names and hostile values, or none. */
export const queryString = (names: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof(
              fc.constantFrom(...names, 'limit', 'starting_after'),
              hostileKey.map((k) => encodeURIComponent(k.replace(/[\ud800-\udfff]/g, ''))),
            ),
            fc.oneof(
              fc.constantFrom(
                '1',
                '10',
                '100',
                '0',
                '101',
                '-1',
                '1e2',
                '0x10',
                ' 5',
                'NaN',
                'Infinity',
                '',
                'sfox',
                'qi',
                'pending_verification',
                'transfer.completed',
              ),
              hostileString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')).slice(0, 3000)),
            ),
          ),
          { minLength: 1, maxLength: 5 },
        )
        .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
    },
    { weight: 1, arbitrary: fc.webQueryParameters().map((q) => `?${q}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '?',
        '??',
        '?&&',
        '?=',
        '?limit',
        '?limit=1&limit=2',
        '?%',
        '?a=%ZZ',
        '?limit[]=1',
        '?limit[$gt]=0',
        '#frag',
      ),
    },
  )

// ---------------------------------------------------------------------------------------------
// Multipart bodies

export type MultipartPart = { name: string; filename?: string; contentType?: string; body: Uint8Array | string }

const MAGIC: Record<string, number[]> = {
  pdf: [0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x37],
  png: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  jpg: [0xff, 0xd8, 0xff, 0xe0],
}

/** The multipart/form-data bytes of the parts; `malform` breaks the framing on purpose. */
export const multipartBytes = (
  parts: MultipartPart[],
  boundary: string,
  malform: 'none' | 'no_close' | 'lf' | 'wrong_boundary' | 'truncate' | 'no_disposition' = 'none',
) => {
  const enc = new TextEncoder()
  const nl = malform === 'lf' ? '\n' : '\r\n'
  const chunks: Uint8Array[] = []
  const mark = malform === 'wrong_boundary' ? `${boundary}-other` : boundary
  for (const part of parts) {
    const disposition = `Content-Disposition: form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`
    const head = `--${mark}${nl}${malform === 'no_disposition' ? '' : disposition + nl}${part.contentType ? `Content-Type: ${part.contentType}${nl}` : ''}${nl}`
    chunks.push(enc.encode(head), typeof part.body === 'string' ? enc.encode(part.body) : part.body, enc.encode(nl))
  }
  if (malform !== 'no_close') chunks.push(enc.encode(`--${mark}--${nl}`))
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    all.set(c, at)
    at += c.length
  }
  return malform === 'truncate' ? all.slice(0, Math.floor(all.length / 2)) : all
}

const fileName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('passport.pdf', 'bill.png', 'selfie.jpg', 'id.JPEG', 'a.pdf', 'scan.png') },
  { weight: 3, arbitrary: hostileString.map((s) => s.slice(0, 300)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(hostileString, fc.constantFrom('.pdf', '.png', '.jpg', '.exe', '.pdf.exe', ''))
      .map(([s, e]) => s.slice(0, 100) + e),
  },
)

const fileBytes = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom('pdf', 'png', 'jpg'), fc.uint8Array({ maxLength: 1024 }))
      .map(([kind, rest]) => new Uint8Array([...MAGIC[kind]!, ...rest])),
  },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 256 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 1, arbitrary: fc.constant(new TextEncoder().encode('MZ\x90\x00 this program cannot be run in DOS mode')) },
)

/** A document upload form: files, a file_types part that may or may not match them, ddq_id; often broken. */
export const documentForm = fc
  .record({
    files: fc.array(
      fc.record({
        filename: fileName,
        contentType: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('application/pdf', 'image/png', 'image/jpeg') },
          {
            weight: 1,
            arbitrary: fc.constantFrom(
              'IMAGE/PNG; charset=x',
              'application/x-msdownload',
              'text/plain',
              '',
              'image/svg+xml',
            ),
          },
        ),
        body: fileBytes,
      }),
      { maxLength: 12 },
    ),
    types: fc.array(
      fc.oneof({ weight: 5, arbitrary: fc.constantFrom('ID', 'PoR') }, { weight: 1, arbitrary: hostileValue }),
      { maxLength: 12 },
    ),
    fileTypes: fc.oneof(
      { weight: 6, arbitrary: fc.constant<'match'>('match') },
      { weight: 1, arbitrary: fc.constant<'absent'>('absent') },
      { weight: 2, arbitrary: fc.dictionary(hostileKey, hostileValue, { maxKeys: 3 }).map((d) => ({ extra: d })) },
      { weight: 2, arbitrary: hostileString.map((s) => ({ raw: s })) },
    ),
    ddq: fc.option(fc.oneof(fc.constantFrom('7', 'ddq-1'), hostileString), { nil: undefined }),
    boundary: fc.constantFrom('fuzzBoundary7MA4YWxk', '----x', 'a'.repeat(70), 'b"q', '🙂'),
    malform: fc.oneof(
      { weight: 8, arbitrary: fc.constant('none' as const) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'no_close' as const,
          'lf' as const,
          'wrong_boundary' as const,
          'truncate' as const,
          'no_disposition' as const,
        ),
      },
    ),
  })
  .map(({ files, types, fileTypes, ddq, boundary, malform }) => {
    const parts: MultipartPart[] = files.map((f) => ({
      name: 'files',
      filename: f.filename,
      contentType: f.contentType || undefined,
      body: f.body,
    }))
    if (fileTypes !== 'absent') {
      let text: string
      if (fileTypes === 'match') {
        const map = new JsonEntries(files.map((f, i) => [f.filename, types[i] ?? 'ID']))
        text = toJsonText(map)
      } else if ('extra' in fileTypes) {
        text = toJsonText(
          new JsonEntries([
            ...files.map((f, i): [string, unknown] => [f.filename, types[i] ?? 'PoR']),
            ...Object.entries(fileTypes.extra),
          ]),
        )
      } else text = fileTypes.raw
      parts.push({ name: 'file_types', body: text })
    }
    if (ddq !== undefined) parts.push({ name: 'ddq_id', body: ddq })
    return { parts, boundary, malform, bytes: multipartBytes(parts, boundary, malform) }
  })

// ---------------------------------------------------------------------------------------------
// Contracts: what a JSON body must be, as a test-side model written from docs/api.md

/**
 * How a value fares against a contract: `valid` (must be accepted), `invalid` (must be refused 422),
 * or `unsure` when validity rests on a check the model does not repeat (a URL policy, a CIDR list).
 */
export type Verdict = 'valid' | 'invalid' | 'unsure'
export type Contract = (value: unknown) => Verdict

const worst = (verdicts: Verdict[]): Verdict =>
  verdicts.includes('invalid') ? 'invalid' : verdicts.includes('unsure') ? 'unsure' : 'valid'
const when = (ok: boolean): Verdict => (ok ? 'valid' : 'invalid')

/** A string of min..max UTF-16 code units (after trimming when `trim`), matching `pattern`. */
export const str =
  (o: { min?: number; max?: number; pattern?: RegExp; trim?: boolean; not?: RegExp } = {}): Contract =>
  (v) => {
    if (typeof v !== 'string') return 'invalid'
    const s = o.trim ? v.trim() : v
    return when(
      s.length >= (o.min ?? 0) &&
        s.length <= (o.max ?? Number.POSITIVE_INFINITY) &&
        (!o.pattern || o.pattern.test(s)) &&
        !o.not?.test(s),
    )
  }

export const oneOf =
  (...values: unknown[]): Contract =>
  (v) =>
    when(values.some((x) => Object.is(x, v)))

export const int =
  (min: number, max: number): Contract =>
  (v) =>
    when(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)

export const bool: Contract = (v) => when(typeof v === 'boolean')
export const nullable =
  (c: Contract): Contract =>
  (v) =>
    v === null ? 'valid' : c(v)
export const unsure =
  (c: Contract): Contract =>
  (v) =>
    c(v) === 'invalid' ? 'invalid' : 'unsure'

/** `[…]` of min..max items, each conforming. */
export const arrayOf =
  (item: Contract, min: number, max: number): Contract =>
  (v) =>
    !Array.isArray(v) || v.length < min || v.length > max ? 'invalid' : worst(v.map(item))

/** An object of string keys (each conforming to `key`) to values, at most `maxKeys` of them. */
export const recordOf =
  (key: Contract, value: Contract, maxKeys: number): Contract =>
  (v) => {
    if (!isPlainObject(v)) return 'invalid'
    const entries = Object.entries(v)
    if (entries.length > maxKeys) return 'invalid'
    return worst(entries.flatMap(([k, x]) => [key(k), value(x)]))
  }

/** A strict object: exactly these fields (those in `optional` may be absent, or `undefined`), nothing else. */
export const obj =
  (fields: Record<string, Contract>, optional: string[] = []): Contract =>
  (v) => {
    if (!isPlainObject(v)) return 'invalid'
    const keys = Object.keys(v)
    if (keys.some((k) => !Object.hasOwn(fields, k))) return 'invalid'
    return worst(
      Object.entries(fields).map(([k, c]) =>
        Object.hasOwn(v, k) ? c(v[k]) : optional.includes(k) ? 'valid' : 'invalid',
      ),
    )
  }

/** The first contract whose `pick` says it applies (a discriminated union); none: invalid. */
export const union =
  (...cases: [pick: (v: Record<string, unknown>) => boolean, Contract][]): Contract =>
  (v) => {
    if (!isPlainObject(v)) return 'invalid'
    const found = cases.find(([pick]) => pick(v))
    return found ? found[1](v) : 'invalid'
  }

/** A number's exact decimal text as JavaScript writes it at its shortest ("1e-7" → "0.0000001"). */
const plainNumber = (n: number) => {
  const m = /^(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(String(n))
  if (!m) return String(n)
  const digits = m[1]! + (m[2] ?? '')
  const point = m[1]!.length + Number(m[3])
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`
  return point >= digits.length
    ? digits + '0'.repeat(point - digits.length)
    : `${digits.slice(0, point)}.${digits.slice(point)}`
}

/**
 * docs/api.md: a positive decimal, as a string (surrounding whitespace ignored) or a JSON number;
 * at most 15 significant digits and below 10^15; `maxDecimals` (QI: 2) after trailing zeros go;
 * `maxLength` (QI: 10) counts the normalized text, e.g. 9999999.99.
 */
export const decimal =
  (o: { maxDecimals?: number; maxLength?: number } = {}): Contract =>
  (v) => {
    const text =
      typeof v === 'number' ? (Number.isFinite(v) ? plainNumber(v) : '') : typeof v === 'string' ? v.trim() : ''
    const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(text)
    if (!m) return 'invalid'
    const whole = m[1]!.replace(/^0+/, '')
    const fraction = (m[2] ?? '').replace(/0+$/, '')
    const significant = `${whole}${fraction}`.replace(/^0+/, '')
    return when(
      significant.length > 0 &&
        whole.length <= 15 &&
        significant.length <= 15 &&
        fraction.length <= (o.maxDecimals ?? Number.POSITIVE_INFINITY) &&
        `${whole || '0'}${fraction ? `.${fraction}` : ''}`.length <= (o.maxLength ?? Number.POSITIVE_INFINITY),
    )
  }
