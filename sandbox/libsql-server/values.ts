import { ProtocolError } from './errors'

/** Hrana JSON value: integers travel as strings so 64-bit values survive JSON. */
export type ProtoValue =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string }

/** What the `libsql` binding binds and (with safe integers on) returns. */
export type SqlValue = null | bigint | number | string | Uint8Array

const MIN_I64 = -(2n ** 63n)
const MAX_I64 = 2n ** 63n - 1n
const NULL: ProtoValue = { type: 'null' }

const parseInteger = (raw: unknown): bigint => {
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return BigInt(raw)
  if (typeof raw === 'string' && /^-?\d{1,20}$/.test(raw)) {
    const value = BigInt(raw)
    if (value >= MIN_I64 && value <= MAX_I64) return value
  }
  throw new ProtocolError(`Invalid integer value: ${JSON.stringify(raw)}`)
}

export const valueFromProto = (raw: unknown): SqlValue => {
  if (raw === null || typeof raw !== 'object') throw new ProtocolError('Value must be an object')
  const v = raw as Record<string, unknown>
  switch (v.type) {
    case 'null':
      return null
    case 'integer':
      return parseInteger(v.value)
    case 'float':
      if (typeof v.value !== 'number') throw new ProtocolError('Float value must be a number')
      return v.value
    case 'text':
      if (typeof v.value !== 'string') throw new ProtocolError('Text value must be a string')
      return v.value
    case 'blob':
      if (typeof v.base64 !== 'string') throw new ProtocolError('Blob value must have a base64 string')
      return Buffer.from(v.base64, 'base64')
    default:
      throw new ProtocolError(`Unknown value type: ${JSON.stringify(v.type)}`)
  }
}

export const valueToProto = (value: unknown): ProtoValue => {
  if (value === null || value === undefined) return NULL
  if (typeof value === 'bigint') return { type: 'integer', value: value.toString() }
  if (typeof value === 'number') return { type: 'float', value }
  if (typeof value === 'string') return { type: 'text', value }
  if (value instanceof Uint8Array) {
    // sqld writes base64 without padding; clients accept both.
    return {
      type: 'blob',
      base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64').replace(/=+$/, ''),
    }
  }
  throw new Error(`Unexpected SQLite value of type ${typeof value}`)
}
