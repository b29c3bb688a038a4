import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { eventually, startTestGateway, type TestGateway } from './support/gateway.ts'

// Issue 8 §5: what the record says is what happened.

let t: TestGateway
let token: string
let tokenId: string
beforeAll(async () => {
  t = await startTestGateway()
  ;({ token, id: tokenId } = await t.mintToken({ name: 'alice' }))
}, 60_000)
afterAll(() => t?.close())

const anthropic = () => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
const MODEL = 'claude-sonnet-4-6'

describe('a client that leaves before any response', () => {
  it('is recorded as 499 client_disconnected, not 200', async () => {
    t.upstream.enqueue({ kind: 'hang' })
    const controller = new AbortController()
    const sent = fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'waiting' }] }),
      signal: controller.signal,
    }).catch((e) => e)
    await eventually(() => expect(t.upstream.requests.at(-1)?.body?.messages?.[0]?.content).toBe('waiting'))
    controller.abort()
    await sent
    await eventually(() => expect(t.records.find((r) => r.status_code === 499)).toBeDefined())
    const record = t.records.find((r) => r.status_code === 499)!
    expect(record).toMatchObject({ token_id: tokenId, success: false, error_type: 'client_disconnected' })
    const [row] = await t.rows('SELECT status_code, success FROM request_logs WHERE id = {id:UUID}', { id: record.id })
    expect(row).toEqual({ status_code: 499, success: false })
    // the aborted upstream call that ends the handler afterwards is no "internal error" (500, logged as unhandled)
    await new Promise((r) => setTimeout(r, 200))
    expect(t.exchanges.find((e) => e.id === record.id)).toMatchObject({ statusCode: 499, errorType: 'client_disconnected' })
  })
})

describe('a pass-through stream that ends without message_stop', () => {
  // An upstream (a proxy on the way, say) that ends the stream cleanly after message_delta, without message_stop.
  let cut: Server
  let g: TestGateway
  beforeAll(async () => {
    cut = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        const event = (type: string, data: object) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`)
        event('message_start', {
          message: { id: 'msg_cut', type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } },
        })
        event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })
        event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'half an' } })
        event('content_block_stop', { index: 0 })
        event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } })
        res.end()
      })
    })
    await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve))
    const port = (cut.address() as { port: number }).port
    g = await startTestGateway({ claude: { api_url: `http://127.0.0.1:${port}` } })
  }, 60_000)
  afterAll(async () => {
    await g?.close()
    cut?.close()
  })

  it('is recorded as an error, and the client is told with an error event', async () => {
    const { token: own } = await g.mintToken()
    const client = new Anthropic({ baseURL: g.url, apiKey: own, maxRetries: 0 })
    const stream = client.messages.stream({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })
    const err = await stream.finalMessage().catch((e) => e)
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect(String(err.message)).toMatch(/before message_stop/)
    await eventually(() => expect(g.records).toHaveLength(1))
    expect(g.records[0]).toMatchObject({ status_code: 200, success: false, error_type: 'api_error', error_message: expect.stringMatching(/before message_stop/) })
  })
})

describe('refused and unauthenticated requests', () => {
  it('are recorded without a token and never counted as a user or a top token', async () => {
    const ok = await anthropic().messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] })
    expect(ok.type).toBe('message')
    const refused = await new Anthropic({ baseURL: t.url, apiKey: 'not-a-token', maxRetries: 0 }).messages
      .create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e)
    expect(refused.status).toBe(401)
    const none = await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    expect(none.status).toBe(401)
    const bad = await new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'also-not-a-token', maxRetries: 0 }).models.list().catch((e) => e)
    expect(bad.status).toBe(401)

    await eventually(() => expect(t.records.filter((r) => r.status_code === 401)).toHaveLength(3))
    for (const r of t.records.filter((r) => r.status_code === 401)) expect(r).toMatchObject({ token_id: '', user_name: '' })

    await t.rows('SELECT 1') // flushes the exporter
    const overview = await t.admin('GET', '/api/stats/overview?days=1')
    expect(overview.status).toBe(200)
    expect(overview.body.total_requests).toBe(t.records.length)
    expect(overview.body.total_users).toBe(1)
    const top = await t.admin('GET', '/api/stats/top/tokens?days=1')
    expect(top.body.tokens.map((x: any) => x.token_id)).toEqual([tokenId])
    expect(top.body.tokens[0].user_name).toBe('alice')
  })
})
