import { ProtocolError, type ProtoError } from './errors'
import { type ProtoValue, type SqlValue, valueFromProto } from './values'

/** Hrana over HTTP, JSON encoding: request bodies (validated) and response shapes. */

export type Version = 2 | 3

export type Stmt = {
  sql: string | undefined
  sqlId: number | undefined
  args: SqlValue[]
  namedArgs: { name: string; value: SqlValue }[]
  wantRows: boolean
}

export type BatchCond =
  | { type: 'ok'; step: number }
  | { type: 'error'; step: number }
  | { type: 'not'; cond: BatchCond }
  | { type: 'and'; conds: BatchCond[] }
  | { type: 'or'; conds: BatchCond[] }
  | { type: 'is_autocommit' }

export type BatchStep = { condition: BatchCond | undefined; stmt: Stmt }

export type SqlRef = { sql: string | undefined; sqlId: number | undefined }

export type StreamRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: Stmt }
  | { type: 'batch'; steps: BatchStep[] }
  | ({ type: 'sequence' } & SqlRef)
  | ({ type: 'describe' } & SqlRef)
  | { type: 'store_sql'; sqlId: number; sql: string }
  | { type: 'close_sql'; sqlId: number }
  | { type: 'get_autocommit' }

export type PipelineReqBody = { baton: string | null; requests: StreamRequest[] }
export type CursorReqBody = { baton: string | null; steps: BatchStep[] }

export type Col = { name: string | null; decltype: string | null }

export type StmtResult = {
  cols: Col[]
  rows: ProtoValue[][]
  affected_row_count: number
  last_insert_rowid: string | null
  query_duration_ms: number
}

export type BatchResult = { step_results: (StmtResult | null)[]; step_errors: (ProtoError | null)[] }

export type DescribeResult = {
  params: { name: string | null }[]
  cols: { name: string; decltype: string | null }[]
  is_explain: boolean
  is_readonly: boolean
}

export type StreamResponse =
  | { type: 'close' }
  | { type: 'execute'; result: StmtResult }
  | { type: 'batch'; result: BatchResult }
  | { type: 'sequence' }
  | { type: 'describe'; result: DescribeResult }
  | { type: 'store_sql' }
  | { type: 'close_sql' }
  | { type: 'get_autocommit'; is_autocommit: boolean }

export type StreamResult = { type: 'ok'; response: StreamResponse } | { type: 'error'; error: ProtoError }

export type PipelineRespBody = { baton: string | null; base_url: string | null; results: StreamResult[] }

export type CursorEntry =
  | { type: 'step_begin'; step: number; cols: Col[] }
  | { type: 'step_end'; affected_row_count: number; last_insert_rowid: string | null }
  | { type: 'step_error'; step: number; error: ProtoError }
  | { type: 'row'; row: ProtoValue[] }
  | { type: 'error'; error: ProtoError }

type Json = Record<string, unknown>

const fail = (path: string, expected: string): never => {
  throw new ProtocolError(`Invalid request body: ${path} must be ${expected}`)
}

const object = (v: unknown, path: string): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : fail(path, 'an object')

const array = (v: unknown, path: string): unknown[] => (Array.isArray(v) ? v : fail(path, 'an array'))

const optArray = (v: unknown, path: string): unknown[] => (v === undefined || v === null ? [] : array(v, path))

const string = (v: unknown, path: string): string => (typeof v === 'string' ? v : fail(path, 'a string'))

const optString = (v: unknown, path: string): string | undefined =>
  v === undefined || v === null ? undefined : string(v, path)

const int32 = (v: unknown, path: string): number =>
  Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31 ? (v as number) : fail(path, 'an int32')

const optInt32 = (v: unknown, path: string): number | undefined =>
  v === undefined || v === null ? undefined : int32(v, path)

const optBaton = (v: unknown): string | null => (v === undefined || v === null ? null : string(v, 'baton'))

const parseStmt = (raw: unknown, path: string): Stmt => {
  const o = object(raw, path)
  const wantRows = o.want_rows
  if (wantRows !== undefined && wantRows !== null && typeof wantRows !== 'boolean')
    fail(`${path}.want_rows`, 'a boolean')
  return {
    sql: optString(o.sql, `${path}.sql`),
    sqlId: optInt32(o.sql_id, `${path}.sql_id`),
    args: optArray(o.args, `${path}.args`).map((v) => valueFromProto(v)),
    namedArgs: optArray(o.named_args, `${path}.named_args`).map((a, i) => {
      const arg = object(a, `${path}.named_args[${i}]`)
      return { name: string(arg.name, `${path}.named_args[${i}].name`), value: valueFromProto(arg.value) }
    }),
    wantRows: wantRows !== false,
  }
}

const parseCond = (raw: unknown, path: string, stepIndex: number, version: Version): BatchCond => {
  const o = object(raw, path)
  const stepRef = () => {
    const step = o.step
    if (!Number.isInteger(step) || (step as number) < 0) fail(`${path}.step`, 'a step index')
    // Like sqld: a condition may only look at earlier steps.
    if ((step as number) >= stepIndex)
      throw new ProtocolError(`Batch condition at ${path} refers to step ${step}, which does not run before it`)
    return step as number
  }
  switch (o.type) {
    case 'ok':
      return { type: 'ok', step: stepRef() }
    case 'error':
      return { type: 'error', step: stepRef() }
    case 'not':
      return { type: 'not', cond: parseCond(o.cond, `${path}.cond`, stepIndex, version) }
    case 'and':
    case 'or':
      return {
        type: o.type,
        conds: array(o.conds, `${path}.conds`).map((c, i) => parseCond(c, `${path}.conds[${i}]`, stepIndex, version)),
      }
    case 'is_autocommit':
      if (version < 3) throw new ProtocolError('BatchCond of type `is_autocommit` requires protocol version 3')
      return { type: 'is_autocommit' }
    default:
      return fail(`${path}.type`, 'a known batch condition type')
  }
}

const parseBatch = (raw: unknown, path: string, version: Version): BatchStep[] =>
  array(object(raw, path).steps, `${path}.steps`).map((s, i) => {
    const step = object(s, `${path}.steps[${i}]`)
    const condition =
      step.condition === undefined || step.condition === null
        ? undefined
        : parseCond(step.condition, `${path}.steps[${i}].condition`, i, version)
    return { condition, stmt: parseStmt(step.stmt, `${path}.steps[${i}].stmt`) }
  })

const parseRequest = (raw: unknown, path: string, version: Version): StreamRequest => {
  const o = object(raw, path)
  switch (o.type) {
    case 'close':
      return { type: 'close' }
    case 'execute':
      return { type: 'execute', stmt: parseStmt(o.stmt, `${path}.stmt`) }
    case 'batch':
      return { type: 'batch', steps: parseBatch(o.batch, `${path}.batch`, version) }
    case 'sequence':
    case 'describe':
      return { type: o.type, sql: optString(o.sql, `${path}.sql`), sqlId: optInt32(o.sql_id, `${path}.sql_id`) }
    case 'store_sql':
      return { type: 'store_sql', sqlId: int32(o.sql_id, `${path}.sql_id`), sql: string(o.sql, `${path}.sql`) }
    case 'close_sql':
      return { type: 'close_sql', sqlId: int32(o.sql_id, `${path}.sql_id`) }
    case 'get_autocommit':
      if (version < 3) throw new ProtocolError('The `get_autocommit` request requires protocol version 3')
      return { type: 'get_autocommit' }
    default:
      return fail(`${path}.type`, 'a known stream request type')
  }
}

export const parsePipelineBody = (raw: unknown, version: Version): PipelineReqBody => {
  const o = object(raw, 'body')
  return {
    baton: optBaton(o.baton),
    requests: array(o.requests, 'requests').map((r, i) => parseRequest(r, `requests[${i}]`, version)),
  }
}

export const parseCursorBody = (raw: unknown): CursorReqBody => {
  const o = object(raw, 'body')
  return { baton: optBaton(o.baton), steps: parseBatch(o.batch, 'batch', 3) }
}
