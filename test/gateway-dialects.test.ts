import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_KEY, eventually, startTestGateway, type TestGateway } from './support/gateway.ts'

// Issue 8 §5: errors that fastify and Node raise themselves, before any route group's plugin has a say,
// still answer in the dialect of the URL's route group, and a proxied route's request refused there is
// recorded like any refusal (no token).

let t: TestGateway
let token: string
beforeAll(async () => {
  t = await startTestGateway({ server: { body_timeout: '1s' } })
  ;({ token } = await t.mintToken())
}, 60_000)
afterAll(() => t?.close())

type Dialect = 'openai' | 'anthropic' | 'admin'
function expectDialect(body: any, dialect: Dialect, type = 'invalid_request_error'): void {
  if (dialect === 'openai') expect(body).toEqual({ error: { message: expect.any(String), type, param: null, code: null } })
  else if (dialect === 'anthropic') expect(body).toEqual({ type: 'error', error: { type, message: expect.any(String) } })
  else expect(body).toEqual({ error: expect.any(String) })
}

/** Writes `head` (and `rest`, if any) on a raw socket; resolves with status and parsed body when the server closes it. */
function raw(head: string, rest?: string): Promise<{ status: number; body: any; text: string }> {
  const url = new URL(t.url)
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname)
    let text = ''
    socket.on('data', (d) => (text += d.toString('latin1')))
    socket.on('error', () => {})
    socket.once('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0)
      const payload = text.slice(text.indexOf('\r\n\r\n') + 4)
      let body: any
      try {
        body = JSON.parse(payload)
      } catch {
        body = payload
      }
      resolve({ status, body, text })
    })
    socket.write(head)
    if (rest !== undefined) socket.write(rest)
  })
}

const request = (method: string, path: string, headers: Record<string, string>) =>
  `${method} ${path} HTTP/1.1\r\nhost: ${new URL(t.url).host}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`

describe('a path that does not decode (fastify, before routing)', () => {
  it('answers 400 in the dialect of its route group', async () => {
    const cases: Array<[string, string, Record<string, string>, Dialect]> = [
      ['POST', '/v1/messages/%E0%A4%A', {}, 'anthropic'],
      ['POST', '/v1/messages%E0', {}, 'openai'], // not under /v1/messages/: the /v1 group's, as its 404 would be
      ['POST', '/v1/chat/completions%ZZ', {}, 'openai'],
      ['GET', '/v1/models/%E0%A4%A', {}, 'openai'],
      ['GET', '/v1/models/%E0%A4%A', { 'anthropic-version': '2023-06-01' }, 'anthropic'],
      ['GET', '/v1/%E0', {}, 'openai'],
      ['GET', '/api/token/%E0%A4%A/stats', { 'x-admin-key': ADMIN_KEY }, 'admin'],
      ['GET', '/%E0', {}, 'admin'],
    ]
    for (const [method, path, headers, dialect] of cases) {
      const res = await fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...headers } })
      expect(res.status, path).toBe(400)
      expectDialect(await res.json(), dialect)
    }
  })

  it('is recorded, without a token, when it was addressed to a proxied route', async () => {
    const before = t.records.length
    const res = await fetch(`${t.url}/v1/models/claude-%E0%A4%A`, { headers: { authorization: `Bearer ${token}`, 'user-agent': 'claude-cli/1.0.83' } })
    expect(res.status).toBe(400)
    await eventually(() => expect(t.records.length).toBe(before + 1))
    expect(t.records.at(-1)).toMatchObject({ endpoint: 'models', status_code: 400, success: false, error_type: 'invalid_request_error', token_id: '', user_name: '', user_agent: 'claude-cli/1.0.83' })
    // a path that is no route is a 404 when it decodes and unrecorded either way
    expect((await fetch(`${t.url}/v1/messages/%E0%A4%A`, { method: 'POST' })).status).toBe(400)
    expect((await fetch(`${t.url}/api/%E0`)).status).toBe(400)
    await new Promise((r) => setTimeout(r, 100))
    expect(t.records.length).toBe(before + 1)
  })
})

describe('a header section over Node’s limit (Node, on the socket)', () => {
  const big = { 'x-padding': 'a'.repeat(20_000) }
  it('answers 431 in the dialect of its route group and closes the connection', async () => {
    const cases: Array<[string, string, Record<string, string>, Dialect]> = [
      ['POST', '/v1/messages', {}, 'anthropic'],
      ['POST', '/v1/messages/count_tokens?beta=true', {}, 'anthropic'],
      ['POST', '/v1/chat/completions', {}, 'openai'],
      ['GET', '/v1/models', {}, 'openai'],
      ['GET', '/v1/models', { 'anthropic-version': '2023-06-01' }, 'anthropic'],
      ['GET', '/api/token/list', { 'x-admin-key': ADMIN_KEY }, 'admin'],
    ]
    for (const [method, path, headers, dialect] of cases) {
      const res = await raw(request(method, path, { ...headers, ...big }))
      expect(res.status, `${path} ${res.text.slice(0, 200)}`).toBe(431)
      expect(res.text).toMatch(/\r\ncontent-type: application\/json\r\n/i)
      expectDialect(res.body, dialect)
      expect(JSON.stringify(res.body)).toMatch(/headers are larger than the \d+-byte limit/)
    }
  })

  it('is recorded, without a token, when it was addressed to a proxied route', async () => {
    const before = t.records.length
    await raw(request('POST', '/v1/messages', { authorization: `Bearer ${token}`, ...big }))
    await raw(request('GET', '/api/token/list', { 'x-admin-key': ADMIN_KEY, ...big }))
    await eventually(() => expect(t.records.length).toBe(before + 1))
    expect(t.records.at(-1)).toMatchObject({ endpoint: 'messages', status_code: 431, success: false, token_id: '', client_ip: expect.stringMatching(/127\.0\.0\.1/) })
    await new Promise((r) => setTimeout(r, 100))
    expect(t.records.length).toBe(before + 1)
  })
})

describe('bytes that are not HTTP (Node, on the socket)', () => {
  it('answer 400 in the dialect of the request line, recorded on a proxied route', async () => {
    const before = t.records.length
    const res = await raw(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n`)
    expect(res.status).toBe(400)
    expectDialect(res.body, 'openai')
    await eventually(() => expect(t.records.length).toBe(before + 1))
    expect(t.records.at(-1)).toMatchObject({ endpoint: 'chat.completions', status_code: 400, token_id: '' })
    // a routed request whose body turns out not to be HTTP: its route's dialect, and its record says so
    const cut = await raw(
      request('POST', '/v1/messages', { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'transfer-encoding': 'chunked' }),
      '5\r\n{"mod\r\nnot a chunk\r\n',
    )
    expect(cut.status).toBe(400)
    expectDialect(cut.body, 'anthropic')
    await eventually(() => expect(t.records.length).toBe(before + 2))
    expect(t.records.at(-1)).toMatchObject({ endpoint: 'messages', status_code: 400, success: false, error_type: 'invalid_request_error' })
    expect(t.exchanges.at(-1)).toMatchObject({ errorMessage: 'the request is not valid HTTP' })
    // no request line to go by: the admin shape
    const garbage = await raw('\x16\x03\x01 not http at all\r\n\r\n')
    expect(garbage.status).toBe(400)
    expectDialect(garbage.body, 'admin')
  })
})

describe('server.body_timeout (Node, on the socket)', () => {
  it('answers 408 in the dialect of the request it cut, and the request keeps its record', async () => {
    const cases: Array<[string, Dialect]> = [
      ['/v1/messages', 'anthropic'],
      ['/v1/chat/completions', 'openai'],
      ['/api/token/generate', 'admin'],
    ]
    for (const [path, dialect] of cases) {
      const before = t.records.length
      const headers = { authorization: `Bearer ${token}`, 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'content-length': '1000' }
      const res = await raw(request('POST', path, headers), '{"model":')
      expect(res.status, res.text).toBe(408)
      expectDialect(res.body, dialect)
      if (dialect === 'admin') continue
      await eventually(() => expect(t.records.slice(before)).toMatchObject([{ status_code: 408, success: false, error_type: 'invalid_request_error' }]))
      expect(t.exchanges.at(-1)).toMatchObject({ errorMessage: 'the request did not arrive in full within server.body_timeout' })
    }
  })

  it('a header section that never ends is cut with a 408 too (nothing of the request known: the admin shape)', async () => {
    const res = await raw(`POST /v1/messages HTTP/1.1\r\nhost: x\r\nx-slow: `)
    expect(res.status).toBe(408)
    expectDialect(res.body, 'admin')
  })
})

describe('an answer already under way', () => {
  it('gets nothing written into it when the next bytes on the connection are not HTTP', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'one two three four' }], chunkDelayMs: 100 })
    const body = JSON.stringify({ model: 'm', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] })
    const head = request('POST', '/v1/messages', {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'content-length': String(Buffer.byteLength(body)),
    })
    // the stray bytes follow once the answer has begun
    const url = new URL(t.url)
    const socket = connect(Number(url.port), url.hostname)
    let text = ''
    socket.on('error', () => {})
    socket.on('data', (d) => {
      if (!text) socket.write('this is not a request line\r\n\r\n')
      text += d.toString('latin1')
    })
    socket.write(head + body)
    await new Promise((resolve) => socket.once('close', resolve))
    expect(text).toMatch(/^HTTP\/1\.1 200 /)
    expect(text).not.toMatch(/HTTP\/1\.1 400|"error"/)
  })
})

it('the process is still serving after all of the above', async () => {
  const res = await fetch(`${t.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
  })
  expect(res.status).toBe(200)
})
