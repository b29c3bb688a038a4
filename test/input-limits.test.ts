import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect } from 'node:net'
import { MAX_JSON_DEPTH } from '../src/http/json-depth.ts'
import Anthropic from '@anthropic-ai/sdk'
import { startTestGateway, type TestGateway, json, ADMIN_KEY, eventually } from './support/gateway.ts'

// Input that is valid JSON but absurd — nested beyond reason, out of range, not well-formed Unicode — gets a
// 400 in the route's own dialect, never a 500, and the process keeps serving.

let t: TestGateway
let token: string
let accountId: string
let tokenId: string
let loggedToken: string
beforeAll(async () => {
  t = await startTestGateway({ server: { body_timeout: '1s' } })
  ;({ token, id: tokenId } = await t.mintToken())
  // content capture walks the request: the deep input must not reach it either
  loggedToken = (await t.admin('POST', '/api/token/generate', { name: 'logged', enable_conversation_logging: true })).body.token
  accountId = (await t.admin('POST', '/api/account/apikey', { name: 'spare', api_key: 'sk-ant-api03-spare-key-0000000000' })).body.id
})
afterAll(() => t.close())

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth)
const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)

const send = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'x-admin-key': ADMIN_KEY,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
      ...headers,
    },
    body,
  })

type Dialect = 'openai' | 'anthropic' | 'admin'
async function expect400(res: Response, dialect: Dialect): Promise<string> {
  const body = await json(res)
  expect(res.status, JSON.stringify(body)).toBe(400)
  if (dialect === 'openai') {
    expect(body.error).toMatchObject({ type: 'invalid_request_error', message: expect.any(String) })
    return body.error.message
  }
  if (dialect === 'anthropic') {
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.any(String) } })
    return body.error.message
  }
  expect(body).toEqual({ error: expect.any(String) })
  return body.error
}

describe('deeply nested JSON', () => {
  // every route that takes a body, with the nesting at the top and inside a field it reads
  const routes: Array<[Dialect, string, string, (inner: string) => string]> = [
    ['openai', 'POST', '/v1/chat/completions', (x) => `{"model":"m","messages":[{"role":"user","content":${x}}]}`],
    ['anthropic', 'POST', '/v1/messages', (x) => `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":${x}}]}`],
    ['anthropic', 'POST', '/v1/messages/count_tokens', (x) => `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":${x}}`],
    ['admin', 'POST', '/api/token/generate', (x) => `{"name":${x}}`],
    ['admin', 'POST', '/api/token/revoke', (x) => `{"id":${x}}`],
    ['admin', 'PUT', '/api/token/TOKEN/settings', (x) => `{"enable_conversation_logging":${x}}`],
    ['admin', 'POST', '/api/account/apikey', (x) => `{"name":"n","api_key":${x}}`],
    ['admin', 'PUT', '/api/account/ACCOUNT', (x) => `{"name":${x}}`],
  ]
  for (const depth of [5_000, 100_000]) {
    for (const [dialect, method, path, wrap] of routes) {
      it(`${depth} levels on ${method} ${path}`, async () => {
        const url = path.replace('TOKEN', tokenId).replace('ACCOUNT', accountId)
        const tokens = dialect === 'admin' ? [token] : [token, loggedToken]
        for (const body of [wrap(deepObject(depth)), wrap(nested(depth)), nested(depth)]) {
          for (const tk of tokens) {
            const message = await expect400(await send(method, url, body, { authorization: `Bearer ${tk}` }), dialect)
            expect(message).toMatch(/nested/)
          }
        }
      })
    }
  }

  it('nesting up to the limit is accepted and recorded, content capture included', async () => {
    const before = t.records.length
    const body = `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x","extra":${deepObject(MAX_JSON_DEPTH - 5)}}]}]}`
    const res = await send('POST', '/v1/messages', body, { authorization: `Bearer ${loggedToken}` })
    expect(res.status).toBe(200)
    await eventually(() => expect(t.records.length).toBe(before + 1))
  })

  it('nesting that real requests use is fine', async () => {
    const schema = { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'array', items: { type: 'string' } } } } } }
    const res = await send('POST', '/v1/messages', JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 't', input_schema: schema }] }))
    expect(res.status).toBe(200)
    // brackets inside strings are text, not nesting
    const text = await send('POST', '/v1/chat/completions', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: nested(10_000) + '"\\[' }] }))
    expect(text.status).toBe(200)
  })
})

describe('absurd values in admin bodies', () => {
  it('an expiry beyond any calendar is a 400 naming expires_in', async () => {
    for (const expires_in of ['100000000d', '99999999999999999999999h', '36501d']) {
      const message = await expect400(await send('POST', '/api/token/generate', JSON.stringify({ name: 'n', expires_in })), 'admin')
      expect(message).toMatch(/^expires_in: /)
    }
    const longest = await t.admin('POST', '/api/token/generate', { name: 'century', expires_in: '36500d' })
    expect(longest.status).toBe(200)
  })

  it('a lone surrogate or a control character in a name is a 400 naming the field', async () => {
    const routes: Array<[string, string, (v: string) => string]> = [
      ['POST', '/api/token/generate', (v) => `{"name":"${v}"}`],
      ['POST', '/api/account/apikey', (v) => `{"name":"${v}","api_key":"sk-ant-api03-another-key-000000000"}`],
      ['PUT', `/api/account/ACCOUNT`, (v) => `{"name":"${v}"}`],
    ]
    for (const [method, path, body] of routes) {
      for (const value of ['\\ud800', 'a\\udc00b', 'line\\nbreak', 'nul\\u0000']) {
        const message = await expect400(await send(method, path.replace('ACCOUNT', accountId), body(value)), 'admin')
        expect(message).toMatch(/^name: /)
      }
    }
    const ok = await t.admin('POST', '/api/token/generate', { name: 'Zoë 🚀 — team' })
    expect(ok.status).toBe(200)
  })

  it('an api_key that could not be sent as a header is a 400', async () => {
    for (const key of ['sk-ant-api03-\\ud800-0000000000000000', 'sk-ant-api03-with space-000000000000', 'sk-ant-api03-é-00000000000000000000']) {
      const message = await expect400(await send('POST', '/api/account/apikey', `{"name":"n","api_key":"${key}"}`), 'admin')
      expect(message).toMatch(/^api_key: /)
    }
  })

  it('ids that are not ids are a 400 or 404, never a 500', async () => {
    const revoke = await send('POST', '/api/token/revoke', '{"id":"\\ud800"}')
    expect([400, 404]).toContain(revoke.status)
    expect((await send('POST', '/api/token/revoke', JSON.stringify({ id: 'x'.repeat(100_000) }))).status).toBe(400)
    const settings = await send('PUT', `/api/token/${encodeURIComponent('\u{1F600}'.repeat(1000))}/settings`, '{"enable_conversation_logging":true}')
    expect(settings.status).toBe(414)
    expect(await json(settings)).toEqual({ error: expect.any(String) })
  })

  it('numbers beyond range are 400s', async () => {
    const priority = await expect400(await send('POST', '/api/account/apikey', '{"name":"n","api_key":"sk-ant-api03-big-number-0000000000","priority":1e400}'), 'admin')
    expect(priority).toMatch(/^priority: /)
    const update = await expect400(await send('PUT', `/api/account/${accountId}`, '{"priority":123456789012345678901234567890}'), 'admin')
    expect(update).toMatch(/^priority: /)
    const chat = await expect400(await send('POST', '/v1/chat/completions', '{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1e400}'), 'openai')
    expect(chat).toMatch(/max_tokens/)
    const temperature = await expect400(await send('POST', '/v1/chat/completions', '{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":1e309}'), 'openai')
    expect(temperature).toMatch(/temperature/)
  })
})

describe('absurd values on the proxied routes', () => {
  it('odd shapes in fields the gateway reads are relayed or refused, never a 500', async () => {
    const bodies = [
      '{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"metadata":null}',
      '{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"metadata":"x"}',
      '{"model":{"a":1},"max_tokens":1e400,"messages":5,"stop_sequences":[1,null,{}],"system":{}}',
      '{"model":"\\ud800","max_tokens":5,"messages":[{"role":"user","content":"\\ud800"}]}',
    ]
    for (const body of bodies) {
      const res = await send('POST', '/v1/messages', body)
      expect(res.status, body).toBeLessThan(500)
      expect((await res.text()).length).toBeGreaterThan(0)
    }
    const chat = await send('POST', '/v1/chat/completions', '{"model":"\\ud800","messages":[{"role":"user","content":"\\udfff"}],"user":"\\ud800"}')
    expect(chat.status).toBeLessThan(500)
  })
})

/** A request written on a raw socket: headers and a first chunk now, the rest only if the test sends it. */
function rawRequest(path: string, headers: Record<string, string>, firstChunk: string) {
  const url = new URL(t.url)
  const socket = connect(Number(url.port), url.hostname)
  let received = ''
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.on('data', (d) => (received += d.toString('latin1')))
  socket.on('error', () => {})
  const head = Object.entries({ host: url.host, ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('')
  socket.write(`POST ${path} HTTP/1.1\r\n${head}\r\n${firstChunk}`)
  return { socket, closed, received: () => received }
}

describe('server.body_timeout', () => {
  it('closes a request whose body never finishes', async () => {
    const started = Date.now()
    const req = rawRequest(
      '/v1/messages',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'content-length': '1000' },
      '{"model":"m",',
    )
    await req.closed
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(900)
    expect(took).toBeLessThan(5_000)
    expect(req.received()).toMatch(/^HTTP\/1\.1 408 /)
    // in the route's dialect, though Node cut the request before fastify had a say
    expect(JSON.parse(req.received().slice(req.received().indexOf('\r\n\r\n') + 4))).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'the request did not arrive in full within server.body_timeout' },
    })
    // one record, as for every request that reached a proxied route, naming what happened
    await eventually(() => expect(t.records.at(-1)).toMatchObject({ status_code: 408, success: false, error_type: 'invalid_request_error' }))
    expect(t.exchanges.at(-1)!.errorMessage).toMatch(/server\.body_timeout/)
    expect(t.upstream.requests.some((r) => r.rawBody?.startsWith('{"model":"m",') && r.rawBody.length < 20)).toBe(false)
  })

  it('records a client that leaves mid-upload as 499, not as a timeout', async () => {
    const before = t.records.length
    const req = rawRequest(
      '/v1/messages',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'content-length': '1000' },
      '{"model":"m",',
    )
    await new Promise((r) => setTimeout(r, 200))
    req.socket.destroy()
    await eventually(() => expect(t.records.length).toBe(before + 1))
    expect(t.records.at(-1)).toMatchObject({ status_code: 499, success: false, error_type: 'client_disconnected' })
  })

  it('does not cut a streamed answer that takes longer than the body timeout', async () => {
    const words = Array.from({ length: 30 }, (_, i) => `w${i}`)
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: words.join(' ') }], chunkDelayMs: 80 })
    const started = Date.now()
    const client = new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
    const message = await client.messages.stream({ model: 'm', max_tokens: 500, messages: [{ role: 'user', content: 'x' }] }).finalMessage()
    expect(Date.now() - started).toBeGreaterThan(1_500)
    expect(message.stop_reason).toBe('end_turn')
    expect(message.content[0]).toMatchObject({ type: 'text', text: words.join(' ') })
  })
})

it('the process is still serving after all of the above', async () => {
  expect((await fetch(`${t.url}/health`)).status).toBe(200)
  const res = await send('POST', '/v1/messages', JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }))
  expect(res.status).toBe(200)
})
