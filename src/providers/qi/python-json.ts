/**
 * Python's `json.dumps(json.loads(text))` with its defaults, which is what QI's webhook sample hashes:
 * ASCII only (`\uXXXX` escapes), `", "` and `": "` separators, keys in their order, ints as written
 * and floats in Python's repr. JSON.parse would lose what that needs (key order of numeric keys,
 * 150.0 vs 150), so the text is read here token by token. Returns null when the text is not JSON.
 */
export const pythonJsonDumps = (text: string): string | null => {
  let at = 0
  const fail = (): never => {
    throw new SyntaxError(`not JSON at ${at}`)
  }
  const space = () => {
    while (at < text.length && ' \t\n\r'.includes(text[at]!)) at++
  }
  const literal = (word: string, out: string) => {
    if (text.startsWith(word, at)) {
      at += word.length
      return out
    }
    return fail()
  }
  const string = (): string => {
    const start = at
    at++ // the opening quote
    while (at < text.length && text[at] !== '"') {
      if (text[at] === '\\') at++
      else if (text.charCodeAt(at) < 0x20) fail()
      at++
    }
    if (text[at] !== '"') fail()
    at++
    return JSON.parse(text.slice(start, at)) as string
  }
  const number = (): string => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(at))
    if (!match) return fail()
    at += match[0].length
    // Python reads a literal without fraction or exponent as an int and prints it back unchanged.
    if (!match[2] && !match[3]) return BigInt(match[0]).toString()
    return pythonFloatRepr(Number(match[0]))
  }
  const value = (): string => {
    space()
    const c = text[at]
    if (c === '{') {
      at++
      const entries = new Map<string, string>()
      space()
      if (text[at] === '}') {
        at++
        return '{}'
      }
      for (;;) {
        space()
        if (text[at] !== '"') fail()
        const key = string()
        space()
        if (text[at] !== ':') fail()
        at++
        // A repeated key keeps its first place and its last value, as in a Python dict.
        entries.set(key, value())
        space()
        if (text[at] === ',') at++
        else if (text[at] === '}') break
        else fail()
      }
      at++
      return `{${[...entries].map(([k, v]) => `${asciiString(k)}: ${v}`).join(', ')}}`
    }
    if (c === '[') {
      at++
      const items: string[] = []
      space()
      if (text[at] === ']') {
        at++
        return '[]'
      }
      for (;;) {
        items.push(value())
        space()
        if (text[at] === ',') at++
        else if (text[at] === ']') break
        else fail()
      }
      at++
      return `[${items.join(', ')}]`
    }
    if (c === '"') return asciiString(string())
    if (c === 't') return literal('true', 'true')
    if (c === 'f') return literal('false', 'false')
    if (c === 'n') return literal('null', 'null')
    return number()
  }
  try {
    const out = value()
    space()
    return at === text.length ? out : null
  } catch {
    return null
  }
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
}

/** A string as json.dumps writes it with ensure_ascii: everything outside 0x20–0x7e as \uXXXX. */
const asciiString = (value: string): string => {
  let out = '"'
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!
    const code = value.charCodeAt(i)
    if (SHORT_ESCAPES[ch]) out += SHORT_ESCAPES[ch]
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, '0')}`
    else out += ch
  }
  return `${out}"`
}

/** Python's repr of a float: the shortest round-trip digits, fixed between 1e-4 and 1e16, else e±XX. */
export const pythonFloatRepr = (x: number): string => {
  if (Number.isNaN(x)) return 'NaN'
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const [mantissa, exp] = x.toExponential().split('e') as [string, string]
  const exponent = Number(exp)
  const negative = mantissa.startsWith('-')
  const digits = mantissa.replace(/^-/, '').replace('.', '')
  const sign = negative ? '-' : ''
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`
    const whole = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0')
    const fraction = digits.slice(exponent + 1)
    return `${sign}${whole}.${fraction || '0'}`
  }
  const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits
  return `${sign}${head}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`
}
