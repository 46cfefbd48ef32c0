import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { cidrMatcher, normaliseCidr, parseCidr, parseIp } from '../../src/lib/cidr'
import { Problem } from '../../src/lib/problem'
import { addressCheckOf, requireAllowedAddress } from '../../src/middleware/access'
import type { AppEnv } from '../../src/middleware/app-env'

const inside = (ranges: string[], address: string | null | undefined) => cidrMatcher(ranges)(address)

describe('parseIp', () => {
  it('reads IPv4 and IPv6 text forms, IPv4 as IPv4-mapped IPv6', () => {
    expect(Array.from(parseIp('1.2.3.4')!)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4])
    expect(parseIp('::ffff:1.2.3.4')).toEqual(parseIp('1.2.3.4'))
    expect(parseIp('::ffff:102:304')).toEqual(parseIp('1.2.3.4'))
    expect(Array.from(parseIp('::')!)).toEqual(new Array(16).fill(0))
    expect(Array.from(parseIp('::1')!).at(-1)).toBe(1)
    expect(parseIp('2001:DB8::1')).toEqual(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001'))
    expect(parseIp('1:2:3:4:5:6:7:8')).not.toBeNull()
    expect(parseIp('1::')).not.toBeNull()
  })

  it('refuses anything that is not an address', () => {
    for (const bad of [
      '',
      ' ',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.-4',
      '1.2.3.4 ',
      '0x1.2.3.4',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      ':::',
      ':1',
      '1:',
      '12345::',
      'g::1',
      'fe80::1%eth0',
      '[::1]',
      '1.2.3.4::',
      '::1.2.3.4:5',
      '1:2:3:4:5:6:7::8',
      'localhost',
    ]) {
      expect(parseIp(bad), bad).toBeNull()
    }
  })
})

describe('parseCidr and normaliseCidr', () => {
  it('normalises: prefix added to a bare address, host bits cleared, IPv6 compressed and lowercase', () => {
    expect(normaliseCidr('203.0.113.7')).toBe('203.0.113.7/32')
    expect(normaliseCidr('10.1.2.3/8')).toBe('10.0.0.0/8')
    expect(normaliseCidr('0.0.0.0/0')).toBe('0.0.0.0/0')
    expect(normaliseCidr('1.2.3.4/0')).toBe('0.0.0.0/0')
    expect(normaliseCidr('192.168.1.255/31')).toBe('192.168.1.254/31')
    expect(normaliseCidr('2001:0DB8:0000:0000:0000:0000:0000:0001')).toBe('2001:db8::1/128')
    expect(normaliseCidr('2001:db8:0:0:1:0:0:1/128')).toBe('2001:db8::1:0:0:1/128')
    expect(normaliseCidr('2001:db8::ff/120')).toBe('2001:db8::/120')
    expect(normaliseCidr('2001:db8:1::/33')).toBe('2001:db8::/33')
    expect(normaliseCidr('::/0')).toBe('::/0')
    expect(normaliseCidr('::1')).toBe('::1/128')
    expect(normaliseCidr('1:0:0:2:0:0:0:3')).toBe('1:0:0:2::3/128')
    expect(normaliseCidr('1:0:2:3:4:5:6:7')).toBe('1:0:2:3:4:5:6:7/128')
    // An IPv4-mapped IPv6 range of /96 or longer is the IPv4 range it stands for.
    expect(normaliseCidr('::ffff:10.0.0.0/104')).toBe('10.0.0.0/8')
    expect(normaliseCidr('::ffff:0:0/96')).toBe('0.0.0.0/0')
    expect(normaliseCidr('::ffff:0:0/95')).toBe('::fffe:0:0/95')
  })

  it('refuses prefixes out of range or malformed, and addresses that are not', () => {
    for (const bad of [
      '1.2.3.4/33',
      '1.2.3.4/-1',
      '1.2.3.4/',
      '1.2.3.4/08',
      '1.2.3.4/8/8',
      '1.2.3.4/ 8',
      '::/129',
      '::1/1280',
      '/8',
      '10.0.0.0/8x',
      'not-an-ip/8',
      '999.0.0.0/8',
      'fe80::1%eth0/64',
      'a'.repeat(65),
    ]) {
      expect(parseCidr(bad), bad).toBeNull()
      expect(normaliseCidr(bad), bad).toBeNull()
    }
  })
})

describe('cidrMatcher', () => {
  it('matches IPv4 inside and outside a range', () => {
    const list = ['203.0.113.0/24']
    expect(inside(list, '203.0.113.0')).toBe(true)
    expect(inside(list, '203.0.113.255')).toBe(true)
    expect(inside(list, '203.0.112.255')).toBe(false)
    expect(inside(list, '203.0.114.0')).toBe(false)
    expect(inside(['10.0.0.0/9'], '10.127.255.255')).toBe(true)
    expect(inside(['10.0.0.0/9'], '10.128.0.0')).toBe(false)
  })

  it('handles the edge prefixes /0, /32 and /128', () => {
    expect(inside(['0.0.0.0/0'], '255.255.255.255')).toBe(true)
    expect(inside(['0.0.0.0/0'], '0.0.0.0')).toBe(true)
    // IPv4 /0 is every IPv4 address, not every IPv6 one.
    expect(inside(['0.0.0.0/0'], '2001:db8::1')).toBe(false)
    expect(inside(['::/0'], '2001:db8::1')).toBe(true)
    expect(inside(['::/0'], '1.2.3.4')).toBe(true)
    expect(inside(['198.51.100.7/32'], '198.51.100.7')).toBe(true)
    expect(inside(['198.51.100.7/32'], '198.51.100.6')).toBe(false)
    expect(inside(['198.51.100.7/32'], '198.51.100.8')).toBe(false)
    expect(inside(['2001:db8::7/128'], '2001:db8::7')).toBe(true)
    expect(inside(['2001:db8::7/128'], '2001:db8::6')).toBe(false)
    expect(inside(['2001:db8::7/128'], '2001:db8::8')).toBe(false)
  })

  it('matches IPv6 ranges on bit boundaries inside a byte', () => {
    const list = ['2001:db8:abcd:12::/63']
    expect(inside(list, '2001:db8:abcd:12::1')).toBe(true)
    expect(inside(list, '2001:db8:abcd:13:ffff:ffff:ffff:ffff')).toBe(true)
    expect(inside(list, '2001:db8:abcd:14::')).toBe(false)
    expect(inside(list, '2001:db8:abcd:11::')).toBe(false)
    expect(inside(list, '2001:DB8:ABCD:0012:0:0:0:1')).toBe(true)
  })

  it('treats IPv4-mapped IPv6 addresses as the IPv4 address they carry, both ways', () => {
    expect(inside(['192.0.2.0/24'], '::ffff:192.0.2.9')).toBe(true)
    expect(inside(['192.0.2.0/24'], '::ffff:c000:209')).toBe(true)
    expect(inside(['192.0.2.0/24'], '::ffff:192.0.3.9')).toBe(false)
    expect(inside(['::ffff:192.0.2.0/120'], '192.0.2.200')).toBe(true)
    expect(inside(['::ffff:192.0.2.0/120'], '192.0.3.200')).toBe(false)
    // Not mapped: ::192.0.2.9 (IPv4-compatible, deprecated) is a different address.
    expect(inside(['192.0.2.0/24'], '::192.0.2.9')).toBe(false)
  })

  it('any of several ranges admits; a missing or unparsable address never does', () => {
    const list = ['10.0.0.0/8', '2001:db8::/32']
    expect(inside(list, '10.9.9.9')).toBe(true)
    expect(inside(list, '2001:db8:ffff::1')).toBe(true)
    expect(inside(list, '2001:db9::1')).toBe(false)
    for (const missing of [undefined, null, '', 'unknown', '10.0.0.1, 1.2.3.4', '10.0.0']) {
      expect(inside(list, missing), String(missing)).toBe(false)
    }
    expect(inside([], '10.0.0.1')).toBe(false)
    expect(inside(['bogus', '10.0.0.0/8'], '10.0.0.1')).toBe(true)
  })
})

describe('requireAllowedAddress (the check behind /v1 and the portal)', () => {
  const app = (allowlist: string[] | null) => {
    const hono = new Hono<AppEnv>()
    hono.get('/', (c) => {
      requireAllowedAddress(c, addressCheckOf(allowlist))
      return c.text('ok')
    })
    hono.onError((error, c) => c.text(error instanceof Problem ? error.code : 'other', 403))
    return hono
  }
  const from = async (allowlist: string[] | null, headers: Record<string, string>) => {
    const res = await app(allowlist).request('/', { headers })
    return `${res.status} ${await res.text()}`
  }

  it('admits every address, or none given, when the partner has no list', async () => {
    expect(await from(null, {})).toBe('200 ok')
    expect(await from(null, { 'cf-connecting-ip': '198.51.100.1' })).toBe('200 ok')
  })

  it('with a list: admits CF-Connecting-IP inside it; refuses outside, a missing header and other headers', async () => {
    const list = ['192.0.2.0/24', '2001:db8::/32']
    expect(await from(list, { 'cf-connecting-ip': '192.0.2.1' })).toBe('200 ok')
    expect(await from(list, { 'cf-connecting-ip': '2001:db8::1' })).toBe('200 ok')
    expect(await from(list, { 'cf-connecting-ip': '198.51.100.1' })).toBe('403 ip_not_allowed')
    expect(await from(list, {})).toBe('403 ip_not_allowed')
    expect(await from(list, { 'x-forwarded-for': '192.0.2.1', 'x-real-ip': '192.0.2.1' })).toBe('403 ip_not_allowed')
  })
})
