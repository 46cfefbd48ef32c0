import { createPrivateKey, sign as signBytes } from 'node:crypto'
import { decodeJwt, importSPKI, jwtVerify, SignJWT } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { generateP521KeyPair } from '../../sandbox/qi/keys'
import { publicKeyOf, signEs512, verifySigned, verifyV1Answer } from '../../src/providers/qi/signing'

// How the gateway reads what QI signed. The cases are bodiless (an empty md5 line, a given digest) because
// Node's WebCrypto has no MD5; the MD5 checks are covered against the sandboxes in test/integration.
const qi = generateP521KeyPair()
const API_KEY = '97ad0301-869c-4481-98b6-294b139e09ae'
const NOW = Date.parse('2026-12-04T20:00:00Z')
const DATE = new Date(NOW).toUTCString()
const PATH = '/account/acc/teds'
const WITH_QUERY = `${PATH}?request_control_key=k&ted_direction=outgoing`

const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES512', typ: 'JWT' }).sign(createPrivateKey(qi.privateKeyPem))

/** A v1 answer header whose `signature` claim is exactly `signature` (QI's Node sample splits it on "\n"). */
const v1 = async (signature: string) => ({
  authorization: `QIT ${API_KEY}:${await sign({ sub: API_KEY, signature })}`,
  apiClientKey: API_KEY,
  answerApiClientKey: API_KEY,
  encodedBody: undefined,
  method: 'GET',
  uri: PATH,
  uris: [PATH, WITH_QUERY],
  qiPublicKeyPem: qi.publicKeyPem,
  now: NOW,
  toleranceMs: 15 * 60_000,
})

/** An answer to `GET PATH` signed in the header with `authorization`, its body hashed as 'digest'. */
const checkedAnswer = (authorization: string) =>
  verifySigned({
    authorization,
    body: '',
    bodyDigests: ['digest'],
    method: 'GET',
    uri: PATH,
    qiPublicKeyPem: qi.publicKeyPem,
    now: NOW,
    toleranceMs: 60_000,
  })

describe('v1 answers are read as QI’s Node sample reads them', () => {
  it('accepts the five lines, and extra or trailing lines after them (the sample ignores them)', async () => {
    const five = ['GET', '', '', DATE, PATH].join('\n')
    expect(await verifyV1Answer(await v1(five))).toEqual({ ok: true })
    expect(await verifyV1Answer(await v1(`${five}\n`))).toEqual({ ok: true })
    expect(await verifyV1Answer(await v1(`${five}\nsomething QI added`))).toEqual({ ok: true })
  })

  it('accepts the endpoint as the path or as path + query', async () => {
    expect(await verifyV1Answer(await v1(['GET', '', '', DATE, WITH_QUERY].join('\n')))).toEqual({ ok: true })
  })

  it('refuses fewer lines, another endpoint or method, a changed md5 line', async () => {
    const refused = async (signature: string, reason: string) =>
      expect(await verifyV1Answer(await v1(signature))).toEqual({ ok: false, reason })
    await refused(['GET', '', '', DATE].join('\n'), 'v1 signature claim has fewer than 5 lines')
    await refused(['GET', '', '', DATE, '/account/acc/ted'].join('\n'), 'signed endpoint does not match')
    await refused(['POST', '', '', DATE, PATH].join('\n'), 'signed method does not match')
    await refused(
      ['GET', 'd41d8cd98f00b204e9800998ecf8427e', '', DATE, PATH].join('\n'),
      'signed md5 does not match encoded_body',
    )
  })
})

describe('answers signed in the header: the uri QI signed may be the path or path + query', () => {
  const answer = async (uri: string) =>
    verifySigned({
      authorization: await sign({ payload_md5: 'digest', timestamp: new Date(NOW).toISOString(), method: 'GET', uri }),
      body: '',
      bodyDigests: ['digest'],
      method: 'GET',
      uri: PATH,
      uris: [PATH, WITH_QUERY],
      qiPublicKeyPem: qi.publicKeyPem,
      now: NOW,
      toleranceMs: 60_000,
    })

  it('accepts either form of this request, and nothing else', async () => {
    expect(await answer(PATH)).toEqual({ ok: true })
    expect(await answer(WITH_QUERY)).toEqual({ ok: true })
    expect(await answer(`${PATH}?request_control_key=other`)).toEqual({
      ok: false,
      reason: 'signed uri does not match',
    })
  })
})

describe('header-signed answers: the timestamp forms QI writes, and why a token is refused', () => {
  const signedAt = async (timestamp: unknown, tokenOf = sign) =>
    checkedAnswer(await tokenOf({ payload_md5: 'digest', timestamp, method: 'GET', uri: PATH }))
  const stale = { ok: false, reason: 'timestamp missing or outside the tolerance' }

  it('reads ISO times with a zone, without one (UTC, as QI’s Python samples write) and with microseconds', async () => {
    for (const timestamp of [
      '2026-12-04T20:00:00Z',
      '2026-12-04T20:00:00.123Z',
      '2026-12-04T20:00:00',
      '2026-12-04T20:00:00.123456',
      '2026-12-04T17:00:00.5-03:00',
      '2026-12-04T20:00:30+00:00',
    ])
      expect({ timestamp, result: await signedAt(timestamp) }).toEqual({ timestamp, result: { ok: true } })
  })

  it('refuses other forms, a time outside the tolerance, and no timestamp', async () => {
    for (const timestamp of [
      '2026-12-04 20:00:00',
      '2026-12-04T20:00:00123',
      '2026-12-04T20:00:00.Z',
      '2026-12-04T20:00Z',
      NOW,
      undefined,
      '2026-12-04T19:58:00Z',
    ])
      expect({ timestamp, result: await signedAt(timestamp) }).toEqual({ timestamp, result: stale })
  })

  it('names why a token fails: not a JWT, another algorithm, or a signature that does not verify', async () => {
    expect(await signedAt('2026-12-04T20:00:00Z', async () => 'not-a-jwt')).toEqual({
      ok: false,
      reason: 'AUTHORIZATION is not a JWT',
    })
    const hs256 = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32))
    expect(await signedAt('2026-12-04T20:00:00Z', hs256)).toEqual({ ok: false, reason: 'JWT alg is not ES512' })
    const other = generateP521KeyPair()
    const byAnotherKey = (claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES512', typ: 'JWT' }).sign(createPrivateKey(other.privateKeyPem))
    expect(await signedAt('2026-12-04T20:00:00Z', byAnotherKey)).toEqual({
      ok: false,
      reason: "signature does not verify with QI's public key",
    })
  })
})

describe("the answer's token is held to what jose's jwtVerify (algorithms ES512) holds it to", () => {
  const base64Url = (text: string) => Buffer.from(text).toString('base64url')
  /** A compact JWS over exactly these header and claims, signed with QI's key. */
  const token = (header: object, claims: unknown) => {
    const input = `${base64Url(JSON.stringify(header))}.${base64Url(JSON.stringify(claims))}`
    const signature = signBytes('sha512', Buffer.from(input), { key: qi.privateKeyPem, dsaEncoding: 'ieee-p1363' })
    return `${input}.${signature.toString('base64url')}`
  }
  const claims = { payload_md5: 'digest', timestamp: new Date(NOW).toISOString(), method: 'GET', uri: PATH }
  const HEADER = { alg: 'ES512', typ: 'JWT' }
  const unverified = { ok: false, reason: "signature does not verify with QI's public key" }
  const nowSeconds = () => Math.floor(Date.now() / 1000)

  it('accepts what jose accepts: any header fields besides alg, an exp still ahead, an nbf passed', async () => {
    const accepted = [
      token(HEADER, claims),
      token({ alg: 'ES512', kid: 'qi-2026' }, claims),
      token(HEADER, { ...claims, exp: nowSeconds() + 60, nbf: nowSeconds() - 60, iat: nowSeconds() }),
    ]
    for (const authorization of accepted) {
      expect(await checkedAnswer(authorization)).toEqual({ ok: true })
      await expect(jwtVerify(authorization, await importSPKI(qi.publicKeyPem, 'ES512'))).resolves.toBeTruthy()
    }
  })

  it('refuses what jose refuses: a critical extension, an expired or not-yet-valid token, claims that are no object', async () => {
    const refused = [
      token({ ...HEADER, crit: ['exp'] }, claims),
      token(HEADER, { ...claims, exp: nowSeconds() - 1 }),
      token(HEADER, { ...claims, exp: String(nowSeconds() + 60) }),
      token(HEADER, { ...claims, nbf: nowSeconds() + 60 }),
      token(HEADER, { ...claims, iat: 'now' }),
      token(HEADER, [claims]),
    ]
    for (const authorization of refused) {
      expect({ authorization, result: await checkedAnswer(authorization) }).toEqual({
        authorization,
        result: unverified,
      })
      await expect(jwtVerify(authorization, await importSPKI(qi.publicKeyPem, 'ES512'))).rejects.toThrow()
    }
  })

  it('refuses a changed payload or signature, a signature that is not base64url, and a malformed token', async () => {
    const good = token(HEADER, claims)
    const [header, payload, signature] = good.split('.') as [string, string, string]
    const otherPayload = base64Url(JSON.stringify({ ...claims, uri: '/account/other/teds' }))
    expect(await checkedAnswer(`${header}.${otherPayload}.${signature}`)).toEqual(unverified)
    expect(await checkedAnswer(`${header}.${payload}.${signature.slice(0, -4)}AAAA`)).toEqual(unverified)
    expect(await checkedAnswer(`${header}.${payload}.${signature.slice(0, 40)}`)).toEqual(unverified)
    expect(await checkedAnswer(`${header}.${payload}.!!not*base64!!`)).toEqual(unverified)
    const notJwt = { ok: false, reason: 'AUTHORIZATION is not a JWT' }
    expect(await checkedAnswer(`${good}.extra`)).toEqual(notJwt)
    expect(await checkedAnswer(`${base64Url('[1]')}.${payload}.${signature}`)).toEqual(notJwt)
    expect(await checkedAnswer(`%%.${payload}.${signature}`)).toEqual(notJwt)
    expect(await checkedAnswer(token({ alg: 'none' }, claims))).toEqual({ ok: false, reason: 'JWT alg is not ES512' })
  })
})

describe('request signatures', () => {
  afterEach(() => vi.restoreAllMocks())
  const claims = {
    payload_md5: '99914b932bd37a50b983c5e7c90ae93b',
    timestamp: new Date(NOW).toISOString(),
    method: 'PUT',
    uri: '/account/acc/ted/t/validate_token',
  }

  it("are the JWT jose's SignJWT writes: the same header and claims bytes, an ES512 signature that verifies", async () => {
    const partner = generateP521KeyPair()
    const ours = await signEs512(claims, partner.privateKeyPem)
    const jose = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES512', typ: 'JWT' })
      .sign(createPrivateKey(partner.privateKeyPem))
    const signedPart = (jwt: string) => jwt.split('.').slice(0, 2).join('.')
    expect(signedPart(ours)).toBe(signedPart(jose))
    const { payload, protectedHeader } = await jwtVerify(ours, await importSPKI(partner.publicKeyPem, 'ES512'), {
      algorithms: ['ES512'],
    })
    expect(protectedHeader).toEqual({ alg: 'ES512', typ: 'JWT' })
    expect(payload).toEqual(claims)
    await expect(jwtVerify(ours, await importSPKI(qi.publicKeyPem, 'ES512'))).rejects.toThrow()
  })

  it('import each key once per isolate: later calls with the same PEM reuse the CryptoKey', async () => {
    const partner = generateP521KeyPair()
    const importKey = vi.spyOn(crypto.subtle, 'importKey')
    const first = await signEs512(claims, partner.privateKeyPem)
    const second = await signEs512({ ...claims, method: 'PATCH' }, partner.privateKeyPem)
    expect(decodeJwt(second).method).toBe('PATCH')
    expect(first).not.toBe(second)
    expect(importKey).toHaveBeenCalledTimes(1)
    expect(await publicKeyOf(partner.publicKeyPem)).toBe(await publicKeyOf(partner.publicKeyPem))
    expect(importKey).toHaveBeenCalledTimes(2)
  })
})
