/**
 * A small SQLite tokenizer. The `libsql` binding prepares only the first statement of a string and
 * exposes no parameter metadata, so statement splitting (for `sequence`, and to reject several
 * statements in one `execute` like sqld does) and parameter names (for binding named arguments
 * without the binding's own object path, which aborts the process on a nameless `?`) are done here.
 */

export type ScannedStatement = {
  sql: string
  /** Parameter names by SQLite index - 1 (`:a`, `?3`); null for `?` and unused indexes. */
  params: (string | null)[]
  isExplain: boolean
  /** Changes connection state (PRAGMA, ATTACH, DETACH, CREATE TEMP ...): not safe to pool afterwards. */
  touchesConnectionState: boolean
  /** `BEGIN [TRANSACTION] READONLY`: libSQL's read transaction (the engine reads READONLY as a name). */
  beginsReadOnly: boolean
}

// Token classes and transitions of sqlite3_complete(), which knows that the `;` inside
// CREATE TRIGGER ... BEGIN ... END does not end the statement.
const SEMI = 0
const WS = 1
const OTHER = 2
const EXPLAIN = 3
const CREATE = 4
const TEMP = 5
const TRIGGER = 6
const END = 7
const TRANSITIONS = [
  [1, 0, 2, 3, 4, 2, 2, 2],
  [1, 1, 2, 3, 4, 2, 2, 2],
  [1, 2, 2, 2, 2, 2, 2, 2],
  [1, 3, 3, 2, 4, 2, 2, 2],
  [1, 4, 2, 2, 2, 4, 5, 2],
  [6, 5, 5, 5, 5, 5, 5, 5],
  [6, 6, 5, 5, 5, 5, 5, 7],
  [1, 7, 5, 5, 5, 5, 5, 5],
]
const START = 1

const KEYWORDS: Record<string, number> = {
  EXPLAIN,
  CREATE,
  TEMP,
  TEMPORARY: TEMP,
  TRIGGER,
  END,
}

const STATE_WORDS = new Set(['PRAGMA', 'ATTACH', 'DETACH'])

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13)
const isDigit = (c: number) => c >= 48 && c <= 57
const isIdChar = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 36 || c >= 128
const isIdStart = (c: number) => isIdChar(c) && !isDigit(c) && c !== 36

type Builder = {
  start: number
  hasContent: boolean
  words: string[]
  params: (string | null)[]
  byName: Map<string, number>
}

const newBuilder = (start: number): Builder => ({
  start,
  hasContent: false,
  words: [],
  params: [],
  byName: new Map(),
})

const finish = (sql: string, b: Builder, end: number): ScannedStatement => {
  const [first, second, third] = b.words
  return {
    sql: sql.slice(b.start, end).trim(),
    params: b.params,
    isExplain: first === 'EXPLAIN',
    touchesConnectionState:
      (first !== undefined && STATE_WORDS.has(first)) ||
      (first === 'CREATE' && (second === 'TEMP' || second === 'TEMPORARY')),
    beginsReadOnly: first === 'BEGIN' && (second === 'READONLY' || (second === 'TRANSACTION' && third === 'READONLY')),
  }
}

// Mirrors sqlite3ExprAssignVarNumber(): `?` takes the next index, `?N` index N, and a repeated
// name reuses its index.
const addParam = (b: Builder, name: string) => {
  if (name === '?') {
    b.params.push(null)
    return
  }
  if (name.startsWith('?')) {
    const index = Number(name.slice(1))
    if (!Number.isInteger(index) || index < 1 || index > 32766) return // SQLite rejects it
    while (b.params.length < index) b.params.push(null)
    b.params[index - 1] ??= name
    return
  }
  if (b.byName.has(name)) return
  b.params.push(name)
  b.byName.set(name, b.params.length)
}

/** Returns the index just past a quoted token starting at `i` (a doubled quote escapes it). */
const skipQuoted = (sql: string, i: number, close: string) => {
  let j = i + 1
  for (;;) {
    const k = sql.indexOf(close, j)
    if (k < 0) return sql.length
    if (close !== ']' && sql[k + 1] === close) {
      j = k + 2
      continue
    }
    return k + 1
  }
}

const readIdChars = (sql: string, i: number) => {
  while (i < sql.length && isIdChar(sql.charCodeAt(i))) i++
  return i
}

/** Splits SQL text into its non-empty statements and describes each one. */
export const scanSql = (sql: string): ScannedStatement[] => {
  const out: ScannedStatement[] = []
  let state = START
  let b = newBuilder(0)
  let i = 0
  const n = sql.length
  while (i < n) {
    const c = sql.charCodeAt(i)
    const next = i + 1 < n ? sql.charCodeAt(i + 1) : -1
    let token = OTHER
    if (isSpace(c)) {
      i++
      token = WS
    } else if (c === 45 && next === 45) {
      const k = sql.indexOf('\n', i)
      i = k < 0 ? n : k + 1
      token = WS
    } else if (c === 47 && next === 42) {
      const k = sql.indexOf('*/', i + 2)
      i = k < 0 ? n : k + 2
      token = WS
    } else if (c === 59) {
      i++
      token = SEMI
    } else if (c === 39 || c === 34 || c === 96) {
      i = skipQuoted(sql, i, sql[i]!)
    } else if (c === 91) {
      i = skipQuoted(sql, i, ']')
    } else if (c === 63) {
      let j = i + 1
      while (j < n && isDigit(sql.charCodeAt(j))) j++
      addParam(b, sql.slice(i, j))
      i = j
    } else if (c === 58 || c === 64 || c === 36 || c === 35) {
      let j = readIdChars(sql, i + 1)
      if (c === 36) {
        // Tcl-style `$a::b(c)` names are one parameter.
        while (sql.startsWith('::', j)) j = readIdChars(sql, j + 2)
        if (sql[j] === '(') {
          const k = sql.indexOf(')', j)
          if (k > 0 && !/\s/.test(sql.slice(j, k))) j = k + 1
        }
      }
      if (j > i + 1) addParam(b, sql.slice(i, j))
      i = Math.max(j, i + 1)
    } else if (isIdStart(c)) {
      const j = readIdChars(sql, i + 1)
      const word = sql.slice(i, j).toUpperCase()
      if (b.words.length < 3) b.words.push(word)
      token = KEYWORDS[word] ?? OTHER
      i = j
    } else if (isDigit(c)) {
      let j = i + 1
      while (j < n && (isIdChar(sql.charCodeAt(j)) || sql[j] === '.')) j++
      i = j
    } else {
      i++
    }

    state = TRANSITIONS[state]![token]!
    if (token === SEMI && state === START) {
      if (b.hasContent) out.push(finish(sql, b, i - 1))
      b = newBuilder(i)
    } else if (token !== WS && token !== SEMI) {
      b.hasContent = true
    }
  }
  if (b.hasContent) out.push(finish(sql, b, n))
  return out
}
