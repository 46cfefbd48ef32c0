import { describe, expect, it } from 'vitest'
import { decryptJson, encryptJson, hmacSha256Hex, randomBase62, secretsEqual } from '../../src/lib/crypto'
import { newId } from '../../src/lib/ids'
import { stableJson } from '../../src/lib/json'
import { API_KEY_PATTERN, displayPrefix, generateApiKey, hashApiKey } from '../../src/partners/key-format'

const KEY = Buffer.alloc(32, 7).toString('base64')

describe('API keys', () => {
  it('have the documented shape and are unique', () => {
    const keys = new Set(Array.from({ length: 200 }, () => generateApiKey('test')))
    expect(keys.size).toBe(200)
    for (const key of keys) expect(key).toMatch(API_KEY_PATTERN)
    expect(generateApiKey('live')).toMatch(/^tgw_live_[A-Za-z0-9]{32}$/)
  })

  it('keep only a display prefix of mode plus four characters', () => {
    expect(displayPrefix('tgw_test_AbCdEfGhIjKlMnOpQrStUvWxYz012345')).toBe('tgw_test_AbCd')
    expect(displayPrefix('tgw_live_Zz9yEfGhIjKlMnOpQrStUvWxYz012345')).toBe('tgw_live_Zz9y')
  })

  it('are stored as a keyed hash: same key and secret → same hash; another secret → another', async () => {
    const key = generateApiKey('test')
    const a = await hashApiKey('secret-one-0123456789', key)
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(await hashApiKey('secret-one-0123456789', key)).toBe(a)
    expect(await hashApiKey('secret-two-0123456789', key)).not.toBe(a)
    expect(a).not.toContain(key.slice(9))
  })

  it('hash with HMAC-SHA256 (RFC 4231 test case 2)', async () => {
    expect(await hmacSha256Hex('Jefe', 'what do ya want for nothing?')).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    )
  })
})

describe('secret comparison', () => {
  it('is exact', async () => {
    expect(await secretsEqual('admin-token', 'admin-token')).toBe(true)
    expect(await secretsEqual('admin-token', 'admin-tokem')).toBe(false)
    expect(await secretsEqual('admin', 'admin-token')).toBe(false)
    expect(await secretsEqual('', 'admin-token')).toBe(false)
  })
})

describe('credential encryption', () => {
  it('round-trips and never contains the plaintext', async () => {
    const sealed = await encryptJson(KEY, 'connection:ptn_1:sfox', { api_key: 'sfox-secret-key' })
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+$/)
    expect(sealed).not.toContain('sfox-secret-key')
    expect(await decryptJson(KEY, 'connection:ptn_1:sfox', sealed)).toEqual({ api_key: 'sfox-secret-key' })
  })

  it('uses a fresh IV each time', async () => {
    const a = await encryptJson(KEY, 'ctx', { v: 1 })
    const b = await encryptJson(KEY, 'ctx', { v: 1 })
    expect(a).not.toBe(b)
  })

  it('refuses a ciphertext moved to another partner or provider, or tampered with', async () => {
    const sealed = await encryptJson(KEY, 'connection:ptn_1:sfox', { api_key: 'k' })
    await expect(decryptJson(KEY, 'connection:ptn_2:sfox', sealed)).rejects.toThrow()
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA')
    await expect(decryptJson(KEY, 'connection:ptn_1:sfox', tampered)).rejects.toThrow()
    await expect(decryptJson(Buffer.alloc(32, 8).toString('base64'), 'connection:ptn_1:sfox', sealed)).rejects.toThrow()
  })
})

describe('ids and canonical JSON', () => {
  it('ids are prefixed, time-ordered and strictly increasing within a millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => newId('tr', 1_700_000_000_000))
    expect(new Set(ids).size).toBe(1000)
    expect([...ids].sort()).toEqual(ids)
    expect(newId('tr', 1_700_000_000_001) > ids.at(-1)!).toBe(true)
    expect(ids[0]).toMatch(/^tr_[0-9a-z]{26}$/)
  })

  it('random base62 is uniform enough and of the right length', () => {
    const text = randomBase62(62_000)
    expect(text).toMatch(/^[A-Za-z0-9]{62000}$/)
    const counts = new Map<string, number>()
    for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1)
    expect(counts.size).toBe(62)
    for (const n of counts.values()) expect(n).toBeGreaterThan(800)
  })

  it('stable JSON ignores key order at every level', () => {
    expect(stableJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: 3 } })).toBe('{"a":{"c":3,"d":[2,{"y":2,"z":1}]},"b":1}')
  })
})
