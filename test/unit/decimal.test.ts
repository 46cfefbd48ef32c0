import { describe, expect, it } from 'vitest'
import { expandExponent, normalizeDecimal, PositiveDecimal } from '../../src/schemas/decimal'

describe('decimal amounts', () => {
  it('normalizes text', () => {
    expect(normalizeDecimal('000.1000')).toBe('0.1')
    expect(normalizeDecimal('2000')).toBe('2000')
    expect(normalizeDecimal('2000.00')).toBe('2000')
    expect(normalizeDecimal('1e5')).toBeNull()
    expect(normalizeDecimal('-1')).toBeNull()
    expect(normalizeDecimal('.5')).toBeNull()
  })

  it('accepts numbers and strings, returns strings', () => {
    expect(PositiveDecimal.parse(0.1)).toBe('0.1')
    expect(PositiveDecimal.parse('0.10')).toBe('0.1')
    expect(PositiveDecimal.parse(2000)).toBe('2000')
    expect(PositiveDecimal.parse('123456789012345')).toBe('123456789012345')
    expect(PositiveDecimal.parse(1e-7)).toBe('0.0000001')
    expect(PositiveDecimal.parse(1.5e14)).toBe('150000000000000')
  })

  it('expands exponents exactly', () => {
    expect(expandExponent('1e-7')).toBe('0.0000001')
    expect(expandExponent('1.25e-3')).toBe('0.00125')
    expect(expandExponent('1.25e2')).toBe('125')
    expect(expandExponent('1.25e1')).toBe('12.5')
    expect(expandExponent('1e21')).toBe('1000000000000000000000')
    expect(expandExponent('42')).toBe('42')
  })

  it('refuses zero, negatives, exponents, junk and more than 15 significant digits', () => {
    for (const bad of [
      0,
      '0',
      '0.000',
      -1,
      '-1',
      '1e-7',
      'abc',
      '',
      '1.2.3',
      Infinity,
      NaN,
      '1234567890123456',
      '0.1234567890123456',
      1.5e21,
      1e308,
      '1000000000000000',
    ]) {
      expect(PositiveDecimal.safeParse(bad).success, String(bad)).toBe(false)
    }
  })

  it('what it accepts survives the trip through a JSON number exactly', () => {
    for (const text of ['0.1', '123456789.123456', '0.000000000000001', '999999999999999']) {
      const normalized = PositiveDecimal.parse(text)
      expect(normalizeDecimal(expandExponent(String(Number(normalized))))).toBe(normalized)
    }
  })
})
