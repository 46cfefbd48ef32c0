// Every log line the gateway writes: one JSON object per line, `level` and `msg` first. Callers pass
// ids, counts and reasons only: never codes, keys, credentials, secrets or document contents.

export type LogLevel = 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

const write = (level: LogLevel, msg: string, fields: LogFields = {}) => {
  const line = JSON.stringify({ level, msg, ...fields })
  if (level === 'error') console.error(line)
  else if (level === 'warn') console.warn(line)
  else console.log(line)
}

export const log = {
  write,
  info: (msg: string, fields?: LogFields) => write('info', msg, fields),
  warn: (msg: string, fields?: LogFields) => write('warn', msg, fields),
  error: (msg: string, fields?: LogFields) => write('error', msg, fields),
}
