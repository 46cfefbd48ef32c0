import {
  type InArgs,
  type InStatement,
  type InValue,
  LibsqlBatchError,
  LibsqlError,
  type TransactionMode,
} from '@libsql/client/web'
import { expandConfig } from '@libsql/core/config'
import { encodeBaseUrl } from '@libsql/core/uri'

/**
 * The hot path's database calls, straight over Hrana's HTTP pipeline: one POST per statement or
 * batch, the stream opened and closed inside it. It speaks exactly what @libsql/client's HTTP
 * client sends (protocol v2, JSON: the same steps, conditions, value encoding and errors) without
 * its per-call machinery (stream objects, queued callbacks, an Error with a stack built at every
 * stream close, Row objects made of defined properties), which was about a third of a request's
 * CPU. Everything else keeps using the library through drizzle. Holds no I/O object, only strings,
 * so one per database URL serves every request of the isolate.
 */

/** A result row: values by column name (first column of a name wins, as in @libsql/client). */
export type Row = Record<string, unknown>
export type StatementResult = {
  columns: string[]
  rows: Row[]
  rowsAffected: number
  lastInsertRowid: bigint | undefined
}
export type Pipeline = {
  execute: (statement: InStatement) => Promise<StatementResult>
  batch: (statements: InStatement[], mode?: TransactionMode) => Promise<StatementResult[]>
}

// --- wire format (Hrana 2, JSON) -------------------------------------------------------------

type WireValue =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string }
type WireStatement = {
  sql: string
  args: WireValue[]
  named_args: { name: string; value: WireValue }[]
  want_rows: boolean
}
type WireCondition = { type: 'ok'; step: number } | { type: 'not'; cond: WireCondition }
type WireStep = { condition?: WireCondition; stmt: WireStatement }
type WireError = { message: string; code?: string | null }
type WireResult = {
  cols: { name?: string | null }[]
  rows: WireValue[][]
  affected_row_count: number
  last_insert_rowid?: string | null
}
type WireStreamResult =
  | { type: 'ok'; response: { type: string; result?: unknown } }
  | { type: 'error'; error: WireError }

const MIN_INTEGER = -9223372036854775808n
const MAX_INTEGER = 9223372036854775807n

const base64Of = (bytes: Uint8Array) => {
  let binary = ''
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

/** As @libsql/hrana-client's valueToProto + JSON encoder: numbers go as floats, booleans as 1/0. */
export const encodeValue = (value: InValue | undefined): WireValue => {
  if (value === null) return { type: 'null' }
  switch (typeof value) {
    case 'string':
      return { type: 'text', value }
    case 'number':
      if (!Number.isFinite(value))
        throw new RangeError('Only finite numbers (not Infinity or NaN) can be passed as arguments')
      return { type: 'float', value }
    case 'bigint':
      if (value < MIN_INTEGER || value > MAX_INTEGER) {
        throw new RangeError(
          'This bigint value is too large to be represented as a 64-bit integer and passed as argument',
        )
      }
      return { type: 'integer', value: String(value) }
    case 'boolean':
      return { type: 'integer', value: value ? '1' : '0' }
    case 'object':
      if (value instanceof Uint8Array) return { type: 'blob', base64: base64Of(value) }
      if (value instanceof ArrayBuffer) return { type: 'blob', base64: base64Of(new Uint8Array(value)) }
      if (value instanceof Date) return { type: 'float', value: value.valueOf() }
      return { type: 'text', value: String(value) }
    default:
      throw new TypeError('Unsupported type of value')
  }
}

/** As @libsql/client with intMode "number": an integer beyond 2^53 is an error, not a rounded value. */
export const decodeValue = (value: WireValue): unknown => {
  switch (value.type) {
    case 'null':
      return null
    case 'integer': {
      const n = Number(value.value)
      if (!Number.isSafeInteger(n))
        throw new RangeError('Received integer which is too large to be safely represented as a JavaScript number')
      return n
    }
    case 'float':
      return Number(value.value)
    case 'text':
      return value.value
    case 'blob': {
      const binary = atob(value.base64)
      const bytes = new Uint8Array(binary.length)
      for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
      return bytes.buffer
    }
    default:
      throw new LibsqlError('Received unrecognized type of Value', 'HRANA_PROTO_ERROR')
  }
}

const encodeStatement = (statement: InStatement): WireStatement => {
  const { sql, args } =
    typeof statement === 'string' ? { sql: statement, args: undefined as InArgs | undefined } : statement
  const wire: WireStatement = { sql, args: [], named_args: [], want_rows: true }
  if (Array.isArray(args)) wire.args = args.map(encodeValue)
  else if (args)
    for (const [name, value] of Object.entries(args)) wire.named_args.push({ name, value: encodeValue(value) })
  return wire
}

const decodeResult = (result: WireResult): StatementResult => {
  const columns = result.cols.map((col) => col.name ?? '')
  const rows = result.rows.map((values) => {
    // No prototype: a column may be called "toString" or "__proto__".
    const row: Row = Object.create(null)
    for (let i = 0; i < values.length; i++) {
      const name = columns[i]!
      if (!Object.hasOwn(row, name)) row[name] = decodeValue(values[i]!)
    }
    return row
  })
  const rowid = result.last_insert_rowid
  return {
    columns,
    rows,
    rowsAffected: result.affected_row_count,
    lastInsertRowid: rowid == null ? undefined : BigInt(rowid),
  }
}

const errorOf = (error: WireError) => new LibsqlError(error.message, error.code ?? 'UNKNOWN')

const BEGIN: Record<TransactionMode, string> = {
  write: 'BEGIN IMMEDIATE',
  read: 'BEGIN TRANSACTION READONLY',
  deferred: 'BEGIN DEFERRED',
}

const statementStep = (sql: string): WireStatement => ({ sql, args: [], named_args: [], want_rows: false })

/**
 * fetch to the database, with a failure to reach it (stopped, connection cut) made a LibsqlError
 * (NETWORK_ERROR), which the app answers as the database being unavailable (503), not as a bug (500).
 */
export const reachDatabase = async (input: RequestInfo, init?: RequestInit) => {
  try {
    return await fetch(input, init)
  } catch (error) {
    throw new LibsqlError(
      `Could not reach the database: ${error instanceof Error ? error.message : String(error)}`,
      'NETWORK_ERROR',
      undefined,
      undefined,
      error instanceof Error ? error : undefined,
    )
  }
}

/**
 * The steps @libsql/client's batch sends: BEGIN; each statement only if the one before succeeded;
 * COMMIT only if the last one did; ROLLBACK unless COMMIT succeeded.
 */
export const batchSteps = (statements: InStatement[], mode: TransactionMode): WireStep[] => {
  const steps: WireStep[] = [{ stmt: statementStep(BEGIN[mode]) }]
  for (const statement of statements)
    steps.push({ condition: { type: 'ok', step: steps.length - 1 }, stmt: encodeStatement(statement) })
  const commit = steps.length
  steps.push({ condition: { type: 'ok', step: commit - 1 }, stmt: statementStep('COMMIT') })
  steps.push({ condition: { type: 'not', cond: { type: 'ok', step: commit } }, stmt: statementStep('ROLLBACK') })
  return steps
}

// --- the pipeline ----------------------------------------------------------------------------

const pipelines = new Map<string, Pipeline>()

export const hranaPipeline = (url: string, authToken?: string): Pipeline => {
  const key = `${authToken ?? ''} ${url}`
  let pipeline = pipelines.get(key)
  if (!pipeline) {
    if (pipelines.size >= 16) pipelines.clear()
    pipeline = createPipeline(url, authToken)
    pipelines.set(key, pipeline)
  }
  return pipeline
}

const createPipeline = (url: string, authToken?: string): Pipeline => {
  // The same URL rules as createClient (libsql: means https unless ?tls=0, ?authToken= accepted).
  const config = expandConfig({ url, authToken }, true)
  if (config.scheme !== 'https' && config.scheme !== 'http') {
    throw new LibsqlError(
      `The HTTP client supports only "libsql:", "https:" and "http:" URLs, got ${JSON.stringify(`${config.scheme}:`)}`,
      'URL_SCHEME_NOT_SUPPORTED',
    )
  }
  const endpoint = new URL('v2/pipeline', encodeBaseUrl(config.scheme, config.authority, config.path)).toString()
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (config.authToken !== undefined) headers.authorization = `Bearer ${config.authToken}`

  /** Sends one stream's requests followed by its close; answers the first request's response. */
  const send = async (request: object): Promise<{ type: string; result?: unknown }> => {
    const body = JSON.stringify({ baton: null, requests: [request, { type: 'close' }] })
    const response = await reachDatabase(endpoint, { method: 'POST', headers, body })
    if (!response.ok) throw await httpError(response)
    let answer: { results?: WireStreamResult[] }
    try {
      answer = (await response.json()) as { results?: WireStreamResult[] }
    } catch (error) {
      throw new LibsqlError(
        'The database answered with malformed JSON',
        'HRANA_PROTO_ERROR',
        undefined,
        undefined,
        error instanceof Error ? error : undefined,
      )
    }
    const [first] = answer.results ?? []
    if (answer.results?.length !== 2 || !first)
      throw new LibsqlError('Server returned unexpected number of pipeline results', 'HRANA_PROTO_ERROR')
    if (first.type === 'error') throw errorOf(first.error)
    if (first.type !== 'ok') throw new LibsqlError('Received unrecognized type of StreamResult', 'HRANA_PROTO_ERROR')
    return first.response
  }

  return {
    execute: async (statement) => {
      const response = await send({ type: 'execute', stmt: encodeStatement(statement) })
      if (response.type !== 'execute')
        throw new LibsqlError('Received unexpected type of response', 'HRANA_PROTO_ERROR')
      return decodeResult(response.result as WireResult)
    },
    batch: async (statements, mode = 'deferred') => {
      const response = await send({ type: 'batch', batch: { steps: batchSteps(statements, mode) } })
      if (response.type !== 'batch') throw new LibsqlError('Received unexpected type of response', 'HRANA_PROTO_ERROR')
      const { step_results: results, step_errors: errors } = response.result as {
        step_results: (WireResult | null)[]
        step_errors: (WireError | null)[]
      }
      const failed = (step: number) => errors[step]
      // BEGIN first, then each statement in order, then COMMIT: the first failure is the answer.
      if (failed(0)) throw errorOf(failed(0)!)
      const decoded = statements.map((_, i) => {
        const error = failed(i + 1)
        // The library builds this from its mapped error, so the code stands twice in the message.
        if (error) throw new LibsqlBatchError(errorOf(error).message, i, error.code ?? 'UNKNOWN')
        const result = results[i + 1]
        if (!result) {
          throw new LibsqlBatchError(
            'Statement in a batch was not executed, probably because the transaction has been rolled back',
            i,
            'TRANSACTION_CLOSED',
          )
        }
        return decodeResult(result)
      })
      const commit = statements.length + 1
      if (failed(commit)) throw errorOf(failed(commit)!)
      return decoded
    },
  }
}

const httpError = async (response: Response) => {
  const message = `Server returned HTTP status ${response.status}`
  const type = response.headers.get('content-type') ?? 'text/plain'
  const text = await response.text().catch(() => '')
  if (type === 'application/json') {
    try {
      const body = JSON.parse(text) as Partial<WireError>
      if (typeof body.message === 'string') return errorOf(body as WireError)
    } catch {
      // not JSON after all: the status says enough
    }
    return new LibsqlError(message, 'SERVER_ERROR')
  }
  return new LibsqlError(type === 'text/plain' && text.trim() ? `${message}: ${text.trim()}` : message, 'SERVER_ERROR')
}
