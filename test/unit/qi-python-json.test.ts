import { describe, expect, it } from 'vitest'
import { pythonFloatRepr, pythonJsonDumps } from '../../src/providers/qi/python-json'

// Expected values are what CPython 3's json.dumps(json.loads(text)) prints (QI's webhook sample).
describe("Python's json.dumps of a JSON text (QI's webhook body MD5)", () => {
  it.each([
    ['{"a":1,"b":"João"}', '{"a": 1, "b": "Jo\\u00e3o"}'],
    ['{"2":1,"1":2,"a":[]}', '{"2": 1, "1": 2, "a": []}'],
    ['{"a":{"b":[1,2,{"c":null}]},"d":{}}', '{"a": {"b": [1, 2, {"c": null}]}, "d": {}}'],
    ['[true,false,null]', '[true, false, null]'],
    [
      '[150.25,150.0,1e16,1e15,1e-05,0.0001,1E+2,-0.0,-0]',
      '[150.25, 150.0, 1e+16, 1000000000000000.0, 1e-05, 0.0001, 100.0, -0.0, 0]',
    ],
    ['123456789012345678901234567890', '123456789012345678901234567890'],
    ['1E400', 'Infinity'],
    ['"\\u007f/\\u2028\\ud83d\\ude00 \\"q\\" \\\\ \\n\\t"', '"\\u007f/\\u2028\\ud83d\\ude00 \\"q\\" \\\\ \\n\\t"'],
    ['{"k":1,"k":2,"j":3}', '{"k": 2, "j": 3}'],
    [' \n {"a" : 1 } \t', '{"a": 1}'],
  ])('%s', (text, python) => {
    expect(pythonJsonDumps(text)).toBe(python)
  })

  it.each(['', '{', '[1,]', '01', '{"a":1}x', "{'a':1}", 'NaN', '"\u0001"'])('refuses %j (not JSON)', (text) => {
    expect(pythonJsonDumps(text)).toBeNull()
  })

  it("writes floats as Python's repr", () => {
    expect([0.1, 1.5e-4, 2.5e16, 1e22, 123456789, -3e-7].map(pythonFloatRepr)).toEqual([
      '0.1',
      '0.00015',
      '2.5e+16',
      '1e+22',
      '123456789.0',
      '-3e-07',
    ])
  })
})
