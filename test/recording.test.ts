import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import Anthropic from '@anthropic-ai/sdk'
import { startTestGateway, eventually, UPSTREAM_KEYS, type TestGateway } from './support/gateway.ts'

// Every request becomes exactly one request_logs row; content only for tokens that opted in.
let t: TestGateway
let optedIn: { token: string; id: string }
let plain: { token: string; id: string }
const MODEL = 'claude-sonnet-4-6'

const openai = (token: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })
const anthropic = (token: string) => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })

beforeAll(async () => {
  t = await startTestGateway({
    server: { trusted_proxies: ['127.0.0.1'] },
    conversations: { redact: [{ pattern: 'CARD-\\d{4}', replacement: '[CARD]' }] },
    logging: { flush_interval: '100ms' },
  })
  optedIn = await t.mintToken({ name: 'opted-in' })
  await t.admin('PUT', `/api/token/${optedIn.id}/settings`, { enable_conversation_logging: true })
  plain = await t.mintToken({ name: 'plain' })
})
afterAll(() => t.close())
beforeEach(() => t.upstream.reset())

/** The request_logs row and the conversation rows of the latest finished exchange. */
async function latest() {
  const id = t.records.at(-1)!.id
  let log: any
  await eventually(async () => {
    ;[log] = await t.rows('SELECT * FROM request_logs WHERE id = {id:UUID}', { id })
    expect(log).toBeDefined()
  })
  const contents = await t.rows('SELECT * FROM conversation_contents WHERE request_log_id = {id:UUID}', { id })
  return { log, contents }
}

describe('request_logs rows', () => {
  it('a non-streamed OpenAI request: who, what, when, how much, and its conversation', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'Paris is the capital.' }], usage: { input_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 } })
    const { response } = await openai(optedIn.token)
      .chat.completions.create(
      {
        model: MODEL,
        user: 'conv-42',
        messages: [
          { role: 'system', content: 'Be exact.' },
          { role: 'user', content: 'What is the capital of France?' },
        ],
      },
      { headers: { 'x-forwarded-for': '203.0.113.9', 'user-agent': 'recording-test/1.0' } },
    )
      .withResponse()
    const { log, contents } = await latest()
    expect(response.headers.get('x-ccproxy-request-id')).toBe(log.id)
    expect(log).toMatchObject({
      token_id: optedIn.id,
      user_name: 'opted-in',
      mode: 'api',
      endpoint: 'chat.completions',
      model: MODEL,
      response_model: MODEL,
      stream: false,
      status_code: 200,
      success: true,
      error_type: '',
      stop_reason: 'end_turn',
      prompt_tokens: 119,
      completion_tokens: 4,
      total_tokens: 123,
      cache_read_tokens: 100,
      cache_creation_tokens: 7,
      retries: 0,
      client_ip: '203.0.113.9',
      user_agent: 'recording-test/1.0',
      conversation_id: 'conv-42',
      has_content: true,
    })
    expect(log.account_id).toMatch(/^cfg_/)
    expect(log.upstream_request_id).toMatch(/^req_/)
    expect(log.duration_ms).toBeGreaterThanOrEqual(0)
    expect(log.ttft_ms).not.toBeNull()
    expect(contents).toHaveLength(1)
    expect(contents[0]).toMatchObject({
      token_id: optedIn.id,
      system_prompt: 'Be exact.',
      prompt: 'What is the capital of France?',
      completion: 'Paris is the capital.',
      tool_calls: '[]',
      tool_results: '[]',
    })
    expect(JSON.parse(contents[0].messages_json)).toEqual([
      { role: 'system', content: 'Be exact.' },
      { role: 'user', content: 'What is the capital of France?' },
    ])
  })

  it('a streamed Anthropic request: TTFT, usage from the final message_delta, the completion assembled from deltas, tool calls', async () => {
    t.upstream.enqueue({
      kind: 'reply',
      chunkDelayMs: 20,
      content: [
        { type: 'text', text: 'Let me check the weather.' },
        { type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: { city: 'Oslo' } },
      ],
    })
    await anthropic(optedIn.token)
      .messages.stream(
        {
          model: MODEL,
          max_tokens: 100,
          metadata: { user_id: 'session-7' },
          system: [{ type: 'text', text: 'You check weather.' }],
          tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
          messages: [
            { role: 'user', content: 'Weather in Oslo?' },
            { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Bergen' } }] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'rain' }, { type: 'text', text: 'And Oslo?' }] },
          ],
        },
      )
      .finalMessage()
    const { log, contents } = await latest()
    expect(log).toMatchObject({ endpoint: 'messages', stream: true, status_code: 200, success: true, stop_reason: 'tool_use', conversation_id: 'session-7', client_ip: '127.0.0.1' })
    expect(log.completion_tokens).toBe(t.records.at(-1)!.completion_tokens)
    expect(log.completion_tokens).toBeGreaterThan(5)
    expect(log.ttft_ms).toBeGreaterThan(0)
    expect(log.ttft_ms).toBeLessThan(log.duration_ms)
    expect(contents[0]).toMatchObject({ system_prompt: 'You check weather.', prompt: 'And Oslo?', completion: 'Let me check the weather.' })
    expect(JSON.parse(contents[0].tool_calls)).toEqual([{ id: 'toolu_9', name: 'get_weather', input: { city: 'Oslo' } }])
    expect(JSON.parse(contents[0].tool_results)).toEqual([{ tool_use_id: 'toolu_1', content: 'rain' }])
  })

  it('failed requests are recorded too: upstream errors, no account, client mistakes', async () => {
    t.upstream.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'bad things' })
    await anthropic(plain.token).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch(() => {})
    // the upstream's text can echo the request: kept (redacted) only for a token that logs conversations
    expect((await latest()).log).toMatchObject({
      status_code: 400,
      success: false,
      error_type: 'invalid_request_error',
      error_message: 'the request was invalid (the details are not kept: this token does not log conversations)',
      token_id: plain.id,
    })
    t.upstream.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'bad things' })
    await anthropic(optedIn.token).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch(() => {})
    expect((await latest()).log).toMatchObject({ status_code: 400, error_message: 'bad things', token_id: optedIn.id })

    await openai(plain.token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], n: 3 }).catch(() => {})
    expect((await latest()).log).toMatchObject({ endpoint: 'chat.completions', status_code: 400, success: false, error_type: 'invalid_request_error' })

    t.upstream.enqueue({ kind: 'midstream-error', afterBlocks: 1, content: [{ type: 'text', text: 'half' }, { type: 'text', text: 'never' }] })
    await anthropic(plain.token).messages.stream({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'x' }] }).finalMessage().catch(() => {})
    expect((await latest()).log).toMatchObject({ status_code: 200, success: false, error_type: 'overloaded_error', stream: true })
  })

  it('an unknown token is recorded without a token id', async () => {
    const before = t.records.length
    const res = await fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: '{}' })
    expect(res.status).toBe(401)
    await eventually(() => expect(t.records.length).toBe(before + 1))
    expect((await latest()).log).toMatchObject({ token_id: '', status_code: 401, success: false, error_type: 'authentication_error' })
  })

  it('a client that disconnects is recorded as such', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: Array.from({ length: 50 }, (_, i) => `w${i}`).join(' ') }], chunkDelayMs: 30 })
    const controller = new AbortController()
    const stream = anthropic(plain.token).messages.stream({ model: MODEL, max_tokens: 500, messages: [{ role: 'user', content: 'x' }] }, { signal: controller.signal })
    await new Promise<void>((resolve) => stream.on('text', () => resolve()))
    controller.abort()
    await stream.finalMessage().catch(() => {})
    await eventually(() => expect(t.records.at(-1)?.error_type).toBe('client_disconnected'))
    expect((await latest()).log).toMatchObject({ success: false, error_type: 'client_disconnected', status_code: 200 })
  })

  it('failover shows in retries and the account that answered', async () => {
    t.upstream.forKey(UPSTREAM_KEYS[0]!, { kind: 'error', status: 529, type: 'overloaded_error', message: 'busy' })
    t.upstream.forKey(UPSTREAM_KEYS[1]!, { kind: 'error', status: 529, type: 'overloaded_error', message: 'busy' })
    await anthropic(plain.token).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch(() => {})
    const { log } = await latest()
    expect(log).toMatchObject({ status_code: 529, retries: 1, error_type: 'overloaded_error' })
  })
})

describe('conversation content', () => {
  it('a token without the flag never produces a content row, on any path', async () => {
    const before = (await t.rows<{ n: string }>('SELECT count() AS n FROM conversation_contents WHERE token_id = {id:String}', { id: plain.id }))[0]!.n
    expect(before).toBe('0')
    const a = anthropic(plain.token)
    const o = openai(plain.token)
    await a.messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'secret plan' }] })
    await a.messages.stream({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'secret plan' }] }).finalMessage()
    await a.messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'secret plan' }] })
    await o.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'secret plan' }] })
    for await (const _ of await o.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'secret plan' }], stream: true })) void _
    t.upstream.enqueue({ kind: 'error', status: 500, type: 'api_error', message: 'boom' })
    await o.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'secret plan' }] }).catch(() => {})
    await eventually(async () => {
      const [row] = await t.rows<{ n: string }>('SELECT count() AS n FROM request_logs WHERE token_id = {id:String}', { id: plain.id })
      expect(Number(row!.n)).toBeGreaterThanOrEqual(6)
    })
    const rows = await t.rows('SELECT count() AS n FROM conversation_contents WHERE token_id = {id:String}', { id: plain.id })
    expect(rows[0].n).toBe('0')
    expect(await t.rows("SELECT count() AS n FROM request_logs WHERE token_id = {id:String} AND has_content", { id: plain.id })).toEqual([{ n: '0' }])
    expect(t.records.filter((r) => r.token_id === plain.id).every((r) => r.content === null)).toBe(true)
  })

  it('masks secrets and configured patterns before content is stored', async () => {
    const secret = 'sk-ant-api03-' + 'A'.repeat(40)
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: `Your card CARD-1234 and key ${secret} are safe` }] })
    await openai(optedIn.token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `my key is ${secret} and card CARD-9876, token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4eXoxMjMifQ.c2lnbmF0dXJlMTIz` }] })
    const { contents } = await latest()
    const stored = JSON.stringify(contents[0])
    expect(stored).not.toContain(secret)
    expect(stored).not.toContain('CARD-9876')
    expect(stored).not.toContain('eyJzdWIiOiJ4eXoxMjMifQ')
    expect(contents[0].prompt).toBe('my key is [REDACTED_ANTHROPIC_KEY] and card [CARD], token [REDACTED_JWT]')
    expect(contents[0].completion).toBe('Your card [CARD] and key [REDACTED_ANTHROPIC_KEY] are safe')
    expect(JSON.parse(contents[0].messages_json)[0].content).toBe(contents[0].prompt)
  })

  it('turning the flag off stops content at once on this replica', async () => {
    const token = await t.mintToken({ name: 'toggler' })
    await t.admin('PUT', `/api/token/${token.id}/settings`, { enable_conversation_logging: true })
    await openai(token.token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'on' }] })
    expect((await latest()).contents).toHaveLength(1)
    await t.admin('PUT', `/api/token/${token.id}/settings`, { enable_conversation_logging: false })
    await openai(token.token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'off' }] })
    expect((await latest()).contents).toHaveLength(0)
  })
})

describe('conversations switched off globally', () => {
  it('no content even for a token that opted in', async () => {
    const off = await startTestGateway({ conversations: { enabled: false } })
    try {
      const token = await off.mintToken({ name: 'x', enable_conversation_logging: true } as any)
      await new OpenAI({ baseURL: `${off.url}/v1`, apiKey: token.token, maxRetries: 0 }).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] })
      await eventually(async () => expect(await off.rows('SELECT id FROM request_logs')).toHaveLength(1))
      expect(await off.rows('SELECT id FROM conversation_contents')).toHaveLength(0)
      expect(off.records[0]!.content).toBeNull()
    } finally {
      await off.close()
    }
  })
})
