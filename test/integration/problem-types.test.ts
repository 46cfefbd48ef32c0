import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Gateway, startGateway } from '../helpers/gateway'

let gateway: Gateway
let configured: Gateway

beforeAll(async () => {
  ;[gateway, configured] = await Promise.all([
    startGateway(),
    startGateway({ vars: { PROBLEM_TYPE_BASE: 'https://docs.partner-portal.example/errors' } }),
  ])
})
afterAll(async () => {
  await gateway?.close()
  await configured?.close()
})

describe('problem types are served by the gateway itself', () => {
  it("a problem's type is this deployment's page for its code, and that page explains it", async () => {
    const problem = await gateway.request('GET', '/nope')
    expect(problem.body.type).toBe('http://gateway.test/problems/not_found')
    const page = await gateway.request('GET', new URL(problem.body.type).pathname)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^application\/json/)
    expect(page.body).toMatchObject({
      object: 'problem_type',
      type: problem.body.type,
      code: 'not_found',
      status: 404,
      title: problem.body.title,
    })
    expect(page.body.description.length).toBeGreaterThan(10)
  })

  it('lists every code the OpenAPI document names, each with a description', async () => {
    const [list, doc] = await Promise.all([
      gateway.request('GET', '/problems'),
      gateway.request('GET', '/openapi.json'),
    ])
    const documented = doc.body.components.schemas.ProblemCode.enum as string[]
    expect(list.body.data.map((p: { code: string }) => p.code).sort()).toEqual([...documented].sort())
    for (const p of list.body.data) {
      expect(p.type).toBe(`http://gateway.test/problems/${p.code}`)
      expect(p.description, p.code).toMatch(/\S{3,}/)
    }
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/problems', '/problems/{code}']))
  })

  it('answers browsers with a small HTML page under the API’s strict CSP', async () => {
    const page = await gateway.request('GET', '/problems/verification_code_invalid', {
      headers: { accept: 'text/html' },
    })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(page.text).toContain('<h1><code>verification_<wbr>code_<wbr>invalid</code></h1>')
    expect(page.text).toContain('<code>attempts_remaining</code>')
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    const index = await gateway.request('GET', '/problems', { headers: { accept: 'text/html' } })
    expect(index.text).toContain('href="http://gateway.test/problems/rate_limited"')
  })

  it('an unknown code is a 404 problem', async () => {
    const res = await gateway.request('GET', '/problems/no_such_code')
    expect(res.status).toBe(404)
    expect(res.body).toMatchObject({ code: 'not_found', type: 'http://gateway.test/problems/not_found' })
  })

  it('PROBLEM_TYPE_BASE points types at the operator’s own pages instead', async () => {
    const res = await configured.request('GET', '/v1/transfers', { key: 'tgw_test_wrong' })
    expect(res.status).toBe(401)
    expect(res.body.type).toBe('https://docs.partner-portal.example/errors/unauthorized')
    // The gateway's own page names the same type.
    const page = await configured.request('GET', '/problems/unauthorized')
    expect(page.body.type).toBe('https://docs.partner-portal.example/errors/unauthorized')
  })
})
