import { Webhook } from 'standardwebhooks'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { coalescingWriter, RECORD_WITHIN_MS } from '../../src/callbacks/delivery'
import {
  DEFAULT_SCHEDULE_SECONDS,
  failingStreakStart,
  nextRetryDelayMs,
  parseRetryAfter,
  parseSchedule,
  type RetryPolicy,
} from '../../src/callbacks/schedule'
import { generateSecret, signatureHeader } from '../../src/callbacks/signing'
import { checkWebhookUrl } from '../../src/callbacks/url-policy'

describe('Standard Webhooks signatures', () => {
  it('verify with the standardwebhooks library', async () => {
    const secret = generateSecret()
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    const body = JSON.stringify({ id: 'evt_1', type: 'transfer.completed', data: { x: 'ü' } })
    const ts = Math.floor(Date.now() / 1000)
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': await signatureHeader([secret], 'evt_1', ts, body),
    }
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body))
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow()
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow()
  })

  it('with two secrets, either one verifies (rotation)', async () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()]
    const ts = Math.floor(Date.now() / 1000)
    const signature = await signatureHeader([newSecret, oldSecret], 'evt_2', ts, '{}')
    expect(signature.split(' ')).toHaveLength(2)
    const headers = { 'webhook-id': 'evt_2', 'webhook-timestamp': String(ts), 'webhook-signature': signature }
    expect(new Webhook(oldSecret).verify('{}', headers)).toEqual({})
    expect(new Webhook(newSecret).verify('{}', headers)).toEqual({})
  })
})

describe('retry schedule', () => {
  const policy: RetryPolicy = {
    scheduleSeconds: DEFAULT_SCHEDULE_SECONDS,
    jitter: 0.2,
    minRetryAfterSeconds: 5,
    maxRetryAfterSeconds: 43_200,
  }

  it('follows 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then gives up', () => {
    const delays = Array.from({ length: 8 }, (_, i) => nextRetryDelayMs(policy, i + 1, null, () => 0.5))
    expect(delays).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, null])
  })

  it('jitters by at most ±20 %', () => {
    expect(nextRetryDelayMs(policy, 2, null, () => 0)).toBe(240_000)
    expect(nextRetryDelayMs(policy, 2, null, () => 1)).toBe(360_000)
    for (let i = 0; i < 200; i++) {
      const d = nextRetryDelayMs(policy, 3, null)!
      expect(d).toBeGreaterThanOrEqual(1_440_000)
      expect(d).toBeLessThanOrEqual(2_160_000)
    }
  })

  it('a failing streak survives the longest retry gap but not a longer quiet spell', () => {
    const day = 24 * 3600_000
    const t0 = 1_700_000_000_000
    expect(failingStreakStart(policy, null, t0, t0 + day)).toBe(t0 + day)
    // The last failure 10 h ago (the schedule's longest gap, within jitter): still the same streak.
    expect(failingStreakStart(policy, t0, t0 + 4 * day, t0 + 4 * day + 10 * 3600_000)).toBe(t0)
    // Six quiet days after a failure: a new failure starts a new streak.
    expect(failingStreakStart(policy, t0, t0 + day, t0 + 7 * day)).toBe(t0 + 7 * day)
  })

  it('honours Retry-After, clamped, when it lengthens the wait; never shortens the schedule', () => {
    const mid = () => 0.5
    expect(nextRetryDelayMs(policy, 1, 120, mid)).toBe(120_000)
    expect(nextRetryDelayMs(policy, 1, 0, mid)).toBe(5_000)
    expect(nextRetryDelayMs(policy, 1, 10 ** 9, mid)).toBe(43_200_000)
    // After the 4th attempt the schedule says 2 h: a receiver's `Retry-After: 1` does not make it 5 s.
    expect(nextRetryDelayMs(policy, 4, 1, mid)).toBe(7_200_000)
    expect(nextRetryDelayMs(policy, 4, 3 * 3600, mid)).toBe(10_800_000)
    expect(nextRetryDelayMs(policy, 8, 10)).toBeNull()
  })

  it('parses Retry-After as seconds or a date, and schedules from settings', () => {
    const now = Date.parse('2026-11-21T10:00:00Z')
    expect(parseRetryAfter('30', now)).toBe(30)
    expect(parseRetryAfter('Sat, 21 Nov 2026 10:01:00 GMT', now)).toBe(60)
    expect(parseRetryAfter('soon', now)).toBeNull()
    expect(parseRetryAfter(null, now)).toBeNull()
    expect(parseSchedule('1, 2,3')).toEqual([1, 2, 3])
    expect(() => parseSchedule('1,x')).toThrow()
  })
})

describe('receiver URL policy', () => {
  const strict = { allowHttp: false, allowPrivateHosts: false }

  it('accepts public https URLs', () => {
    expect(checkWebhookUrl('https://hooks.example.com/tgw?x=1', strict)).toEqual({
      ok: true,
      url: 'https://hooks.example.com/tgw?x=1',
    })
    expect(checkWebhookUrl('https://93.184.216.34/hook', strict).ok).toBe(true)
    expect(checkWebhookUrl('https://[2606:4700::1111]/hook', strict).ok).toBe(true)
  })

  it('refuses plain http, credentials and junk', () => {
    expect(checkWebhookUrl('http://hooks.example.com', strict)).toMatchObject({ ok: false, message: 'must use https' })
    expect(checkWebhookUrl('https://user:pw@hooks.example.com', strict).ok).toBe(false)
    expect(checkWebhookUrl('ftp://x.example.com', strict).ok).toBe(false)
    expect(checkWebhookUrl('not a url', strict).ok).toBe(false)
  })

  it('refuses loopback, private, link-local, CGNAT and metadata hosts', () => {
    for (const host of [
      'localhost',
      'api.localhost',
      '127.0.0.1',
      '127.1.2.3',
      '10.0.0.1',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '100.127.255.255',
      '0.0.0.0',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[::ffff:10.0.0.1]',
      '[fd00::1]',
      '[fe80::1]',
      'metadata.google.internal',
      '224.0.0.1',
    ]) {
      expect(checkWebhookUrl(`https://${host}/hook`, strict).ok, host).toBe(false)
    }
    for (const host of ['172.32.0.1', '100.128.0.1', '11.0.0.1', '192.169.0.1']) {
      expect(checkWebhookUrl(`https://${host}/hook`, strict).ok, host).toBe(true)
    }
  })

  it('refuses IPv6 forms that carry or reach a private IPv4, and other non-public IPv6 ranges', () => {
    for (const host of [
      '[::]',
      '[::127.0.0.1]',
      '[::a00:1]', // IPv4-compatible ::/96
      '[::ffff:7f00:1]',
      '[0:0:0:0:0:ffff:169.254.169.254]', // IPv4-mapped, every spelling
      '[64:ff9b::127.0.0.1]',
      '[64:ff9b::a9fe:a9fe]', // NAT64 to loopback / metadata
      '[2002:7f00:1::]',
      '[2002:a00:1::1]', // 6to4 around 127.0.0.1 / 10.0.0.1
      '[2001:0:4136:e378:8000:63bf:3fff:fdd2]', // Teredo
      '[fec0::1]',
      '[fd00:ec2::254]',
      '[ff02::1]',
      '[2001:db8::1]',
      '[100::1]',
    ]) {
      expect(checkWebhookUrl(`https://${host}/hook`, strict).ok, host).toBe(false)
    }
    for (const host of [
      '[64:ff9b::5db8:d822]',
      '[2002:5db8:d822::1]',
      '[2a00:1450:4001:80e::200e]',
      '[::ffff:93.184.216.34]',
    ]) {
      expect(checkWebhookUrl(`https://${host}/hook`, strict).ok, host).toBe(true)
    }
  })

  it('a deployment may allow http and private hosts (local dev)', () => {
    expect(checkWebhookUrl('http://127.0.0.1:9000/hook', { allowHttp: true, allowPrivateHosts: true }).ok).toBe(true)
    expect(checkWebhookUrl('http://127.0.0.1:9000/hook', { allowHttp: true, allowPrivateHosts: false }).ok).toBe(false)
  })
})

describe('outcomes recorded together (coalescingWriter)', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const recording = () => {
    const writes: string[][] = []
    let release = () => {}
    const writer = coalescingWriter(async (items: string[]) => {
      writes.push(items)
      // A write takes a while; the next one starts only after it.
      await new Promise<void>((resolve) => {
        release = resolve
      })
    }, RECORD_WITHIN_MS)
    return { writes, writer, release: () => release() }
  }

  it('writes what finished close together once, and a straggler in a write of its own', async () => {
    const { writes, writer, release } = recording()
    writer.add('fast-1')
    await vi.advanceTimersByTimeAsync(10)
    writer.add('fast-2')
    writer.add('fast-3')
    expect(writes).toEqual([])
    // Within RECORD_WITHIN_MS of the first, whatever waits is written: a hanging attempt holds nobody.
    await vi.advanceTimersByTimeAsync(RECORD_WITHIN_MS - 10)
    expect(writes).toEqual([['fast-1', 'fast-2', 'fast-3']])
    writer.add('hanging')
    const done = writer.flush()
    await vi.advanceTimersByTimeAsync(0)
    // The second write waits for the first to end.
    expect(writes).toHaveLength(1)
    release()
    await vi.advanceTimersByTimeAsync(0)
    expect(writes).toEqual([['fast-1', 'fast-2', 'fast-3'], ['hanging']])
    release()
    await done
  })

  it('flushes at once when the batch ends, and a flush with nothing waiting writes nothing', async () => {
    const { writes, writer, release } = recording()
    writer.add('a')
    writer.add('b')
    const done = writer.flush()
    await vi.advanceTimersByTimeAsync(0)
    expect(writes).toEqual([['a', 'b']])
    release()
    await done
    await writer.flush()
    // The timer the first add started was cleared: nothing is written twice or empty.
    await vi.advanceTimersByTimeAsync(RECORD_WITHIN_MS * 2)
    expect(writes).toEqual([['a', 'b']])
  })
})
