import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, startTestGateway, type TestGateway, json } from './support/gateway.ts'

let t: TestGateway
let token: string
let tokenId: string
beforeAll(async () => {
  t = await startTestGateway({ server: { body_limit: 4096 } })
  ;({ token, id: tokenId } = await t.mintToken())
})
afterAll(() => t.close())

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body,
  })

describe('bad input gets a clear error in the route’s dialect, never a 500', () => {
  it('malformed JSON', async () => {
    const openai = await post('/v1/chat/completions', '{"model": "x", ')
    expect(openai.status).toBe(400)
    expect((await json(openai)).error).toMatchObject({ type: 'invalid_request_error', message: expect.stringMatching(/malformed JSON/) })
    const anthropic = await post('/v1/messages', '{nope')
    expect(anthropic.status).toBe(400)
    expect(await json(anthropic)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    const admin = await fetch(`${t.url}/api/token/generate`, { method: 'POST', headers: { 'x-admin-key': 'test-admin-key-0123456789', 'content-type': 'application/json' }, body: '[' })
    expect(admin.status).toBe(400)
    expect(typeof (await json(admin)).error).toBe('string')
  })

  it('missing and mistyped fields name the field', async () => {
    const missing = await post('/v1/chat/completions', JSON.stringify({ model: 'x' }))
    expect(missing.status).toBe(400)
    expect((await json(missing)).error).toMatchObject({ param: 'messages' })
    const mistyped = await post('/v1/chat/completions', JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }))
    expect(mistyped.status).toBe(400)
    expect((await json(mistyped)).error).toMatchObject({ param: 'temperature' })
    const notObject = await post('/v1/messages', '[1,2]')
    expect(notObject.status).toBe(400)
  })

  it('oversize bodies are 413', async () => {
    const big = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'a'.repeat(5000) }] })
    const openai = await post('/v1/chat/completions', big)
    expect(openai.status).toBe(413)
    expect((await json(openai)).error.message).toMatch(/4096-byte limit/)
    const anthropic = await post('/v1/messages', big)
    expect(anthropic.status).toBe(413)
    expect((await json(anthropic)).error.type).toBe('request_too_large')
  })

  it('unknown routes are a JSON 404', async () => {
    const res = await fetch(`${t.url}/v1/nothing-here`)
    expect(res.status).toBe(404)
    expect((await json(res)).error).toMatchObject({ type: 'not_found_error' })
    const admin = await fetch(`${t.url}/api/nothing`)
    expect(admin.status).toBe(404)
    expect(await json(admin)).toEqual({ error: 'no route for GET /api/nothing' })
  })

  it('each route group answers in its own dialect: 404s under its prefix, /v1/models by anthropic-version', async () => {
    const openai404 = await fetch(`${t.url}/v1/chat/nope`, { method: 'POST' })
    expect(await json(openai404)).toEqual({ error: { message: 'no route for POST /v1/chat/nope', type: 'not_found_error', param: null, code: null } })
    const anthropic404 = await fetch(`${t.url}/v1/messages/batches`)
    expect(await json(anthropic404)).toEqual({ type: 'error', error: { type: 'not_found_error', message: 'no route for GET /v1/messages/batches' } })
    const models401 = await fetch(`${t.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } })
    expect(models401.status).toBe(401)
    expect(await json(models401)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    const openaiModels401 = await fetch(`${t.url}/v1/models`)
    expect(await json(openaiModels401)).toMatchObject({ error: { type: 'authentication_error', param: null } })
    const model401 = await fetch(`${t.url}/v1/models/claude-x`, { headers: { 'anthropic-version': '2023-06-01' } })
    expect(model401.status).toBe(401)
    expect(await json(model401)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
  })

  it('a body that is not JSON is refused with 415', async () => {
    const res = await post('/v1/chat/completions', 'hello', { 'content-type': 'text/plain' })
    expect(res.status).toBe(415)
    expect((await json(res)).error.type).toBe('invalid_request_error')
  })

  it('every refused body leaves one record, under the token that sent it', async () => {
    const big = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'a'.repeat(5000) }] })
    const cases: Array<[string, string, Record<string, string>, string, number]> = [
      ['/v1/chat/completions', '{"model": "x", ', {}, 'chat.completions', 400],
      ['/v1/messages', '{nope', {}, 'messages', 400],
      ['/v1/messages/count_tokens', '[', {}, 'count_tokens', 400],
      ['/v1/chat/completions', big, {}, 'chat.completions', 413],
      ['/v1/messages', big, {}, 'messages', 413],
      ['/v1/chat/completions', 'hello', { 'content-type': 'text/plain' }, 'chat.completions', 415],
      ['/v1/messages', 'hello', { 'content-type': 'text/plain' }, 'messages', 415],
    ]
    for (const [path, body, headers, endpoint, status] of cases) {
      const before = t.records.length
      const res = await post(path, body, headers)
      expect(res.status, path).toBe(status)
      await res.arrayBuffer()
      await eventually(() => expect(t.records.length).toBe(before + 1))
      expect(t.records.at(-1), `${path} ${status}`).toMatchObject({ endpoint, status_code: status, success: false, token_id: tokenId, error_type: status === 413 ? 'request_too_large' : 'invalid_request_error' })
    }
  })

  it('an unreachable upstream is a 502', async () => {
    const down = await startTestGateway({ claude: { api_url: 'http://127.0.0.1:9', max_attempts: 2 } })
    try {
      const { token: tk } = await down.mintToken()
      const res = await fetch(`${down.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tk}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      })
      expect(res.status).toBe(502)
      expect((await json(res)).error.message).toMatch(/upstream unreachable: ECONNREFUSED/)
    } finally {
      await down.close()
    }
  })

  it('an upstream that never answers times out at the first-byte timeout with a 502', async () => {
    const slow = await startTestGateway({ claude: { first_byte_timeout: '300ms', max_attempts: 1 } })
    try {
      const { token: tk } = await slow.mintToken()
      slow.upstream.enqueue({ kind: 'hang' })
      const res = await fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tk}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'x' }] }),
      })
      expect(res.status).toBe(502)
      expect((await json(res)).error.message).toMatch(/first-byte timeout/)
    } finally {
      await slow.close()
    }
  })

  it('keeps a path prefix of claude.api_url (a proxy in front of Anthropic)', async () => {
    const t2 = await startTestGateway({ claude: { api_url: `${t.upstream.url}/anthropic` } })
    try {
      const { token: tk } = await t2.mintToken()
      await fetch(`${t2.url}/v1/messages?beta=true`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tk}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      })
      expect(t.upstream.requests.at(-1)).toMatchObject({ path: '/anthropic/v1/messages', query: '?beta=true' })
    } finally {
      await t2.close()
    }
  })

  it('the process is still serving after all of the above', async () => {
    expect((await fetch(`${t.url}/health`)).status).toBe(200)
    const ready = await fetch(`${t.url}/ready`)
    expect(ready.status).toBe(200)
    expect(await json(ready)).toEqual({ status: 'ready', clickhouse: 'embedded' })
  })
})
