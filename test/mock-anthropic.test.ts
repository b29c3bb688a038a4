// Checks the mock Anthropic server against the real @anthropic-ai/sdk clients (1.x and 0.x).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  ContentTooLargeError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk'
import Anthropic0x, { InternalServerError as InternalServerError0x } from 'anthropic-sdk-0x'
import { MOCK_MODELS, TOOL_USE_TOKENS, startMockAnthropic } from './support/mock-anthropic.ts'
import type { MockAnthropic } from './support/mock-anthropic.ts'

let mock: MockAnthropic
let client: Anthropic

beforeAll(async () => {
  mock = await startMockAnthropic()
  client = new Anthropic({ baseURL: mock.url, apiKey: 'sk-ant-test-1', maxRetries: 0 })
})
afterEach(() => {
  mock.reset()
  mock.validKeys = null
})
afterAll(async () => {
  await mock.close()
})

const MODEL = 'claude-sonnet-4-6'
const base = { model: MODEL, max_tokens: 100, messages: [{ role: 'user' as const, content: 'hello there world' }] }

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Raw POST /v1/messages with fetch; returns the Response. */
function rawPost(body: unknown, headers: Record<string, string> = {}, path = '/v1/messages', signal?: AbortSignal) {
  return fetch(mock.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-test-1', 'anthropic-version': '2023-06-01', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  })
}

/** Parse SSE text into {event, data} messages, asserting every message has an `event:` line. */
function parseSse(text: string): Array<{ event: string; data: any }> {
  return text
    .split('\n\n')
    .filter((m) => m.trim() !== '')
    .map((m) => {
      const lines = m.split('\n')
      const ev = lines.find((l) => l.startsWith('event: '))
      const data = lines.find((l) => l.startsWith('data: '))
      expect(ev, `missing event line in ${m}`).toBeDefined()
      const parsed = JSON.parse(data!.slice(6))
      expect(parsed.type).toBe(ev!.slice(7))
      return { event: ev!.slice(7), data: parsed }
    })
}

describe('non-stream', () => {
  it('default reply echoes the last user message with full usage', async () => {
    const msg = await client.messages.create(base)
    expect(msg.type).toBe('message')
    expect(msg.role).toBe('assistant')
    expect(msg.id).toMatch(/^msg_/)
    expect(msg.model).toBe(MODEL)
    expect(msg.content).toEqual([{ type: 'text', text: 'Echo: hello there world' }])
    expect(msg.stop_reason).toBe('end_turn')
    expect(msg.stop_sequence).toBeNull()
    expect(msg.usage).toEqual({
      input_tokens: 3,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 4,
      service_tier: 'standard',
    })
    const r = mock.requests[0]!
    expect(r.method).toBe('POST')
    expect(r.path).toBe('/v1/messages')
    expect(r.apiKey).toBe('sk-ant-test-1') // 1.x SDK: Authorization: Bearer
    expect(r.headers['authorization']).toBe('Bearer sk-ant-test-1')
    expect(r.headers['anthropic-version']).toBe('2026-10-21')
    expect(r.body.max_tokens).toBe(100)
    expect(JSON.parse(r.rawBody)).toEqual(r.body)
    expect(r.aborted).toBe(false)
  })

  it('echoes concatenated text blocks; input estimate covers system + messages', async () => {
    const msg = await client.messages.create({
      ...base,
      system: [{ type: 'text', text: 'be brief' }],
      messages: [
        { role: 'user', content: 'one' },
        { role: 'assistant', content: 'two three' },
        { role: 'user', content: [{ type: 'text', text: 'four ' }, { type: 'text', text: 'five' }] },
      ],
    })
    expect(msg.content).toEqual([{ type: 'text', text: 'Echo: four five' }])
    expect(msg.usage.input_tokens).toBe(7)
  })

  it('scenario content, model, usage override and headers', async () => {
    mock.enqueue({
      kind: 'reply',
      model: 'claude-opus-4-8',
      content: [{ type: 'thinking', thinking: 'hmm ok' }, { type: 'text', text: 'Checking.' }, { type: 'tool_use', name: 'get_weather', input: { city: 'Oslo' } }],
      usage: { input_tokens: 412, cache_read_input_tokens: 2048, cache_creation_input_tokens: 7, output_tokens: 57 },
      headers: { 'x-extra': 'yes' },
    })
    const { data: msg, response } = await client.messages.create(base).withResponse()
    expect(response.headers.get('x-extra')).toBe('yes')
    expect(response.headers.get('request-id')).toMatch(/^req_/)
    expect(msg.model).toBe('claude-opus-4-8')
    expect(msg.stop_reason).toBe('tool_use')
    expect(msg.content[0]).toMatchObject({ type: 'thinking', thinking: 'hmm ok' })
    expect((msg.content[0] as any).signature).toEqual(expect.any(String))
    expect(msg.content[2]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Oslo' } })
    expect((msg.content[2] as any).id).toMatch(/^toolu_/)
    expect(msg.usage).toMatchObject({
      input_tokens: 412,
      cache_read_input_tokens: 2048,
      cache_creation_input_tokens: 7,
      cache_creation: { ephemeral_5m_input_tokens: 7, ephemeral_1h_input_tokens: 0 },
      output_tokens: 57,
    })
  })

  it('output_tokens counts words plus a fixed count per tool_use', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'a b c' }, { type: 'tool_use', id: 'toolu_x', name: 't', input: {} }] })
    const msg = await client.messages.create(base)
    expect(msg.usage.output_tokens).toBe(3 + TOOL_USE_TOKENS)
    expect(msg.content[1]).toEqual({ type: 'tool_use', id: 'toolu_x', name: 't', input: {} })
  })

  it('stop_sequences cut the text before the match', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'one two STOP three' }, { type: 'text', text: 'never' }] })
    const msg = await client.messages.create({ ...base, stop_sequences: ['zzz', 'STOP'] })
    expect(msg.content).toEqual([{ type: 'text', text: 'one two ' }])
    expect(msg.stop_reason).toBe('stop_sequence')
    expect(msg.stop_sequence).toBe('STOP')
    expect(msg.usage.output_tokens).toBe(2)
  })

  it('max_tokens truncates to that many words', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'one two  three four five' }] })
    const msg = await client.messages.create({ ...base, max_tokens: 3 })
    expect(msg.content).toEqual([{ type: 'text', text: 'one two  three' }])
    expect(msg.stop_reason).toBe('max_tokens')
    expect(msg.usage.output_tokens).toBe(3)
    // budget exhausted exactly at a block boundary: the next block is not emitted
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'one two' }, { type: 'text', text: 'three' }] })
    const m2 = await client.messages.create({ ...base, max_tokens: 2 })
    expect(m2.content).toEqual([{ type: 'text', text: 'one two' }])
    expect(m2.stop_reason).toBe('max_tokens')
  })

  it('queue is consumed in order; per-key rules win and persist', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'first' }] }, { kind: 'reply', content: [{ type: 'text', text: 'second' }] })
    mock.forKey('sk-ant-other', { kind: 'reply', content: [{ type: 'text', text: 'keyed' }], stopReason: 'pause_turn' })
    const other = new Anthropic({ baseURL: mock.url, apiKey: 'sk-ant-other', maxRetries: 0 })
    const texts = async (c: Anthropic) => ((await c.messages.create(base)).content[0] as any).text
    expect(await texts(client)).toBe('first')
    expect(await texts(other)).toBe('keyed')
    expect(await texts(other)).toBe('keyed')
    expect(await texts(client)).toBe('second')
    expect(await texts(client)).toBe('Echo: hello there world')
    expect((await other.messages.create(base)).stop_reason).toBe('pause_turn')
  })

  it('0.x SDK: x-api-key and anthropic-version 2023-06-01, ?beta=true recorded', async () => {
    const c0 = new Anthropic0x({ baseURL: mock.url, apiKey: 'sk-ant-test-0', maxRetries: 0 })
    const msg = await c0.messages.create({ ...base, temperature: 0.5 })
    expect(msg.content).toEqual([{ type: 'text', text: 'Echo: hello there world' }])
    const r = mock.requests[0]!
    expect(r.headers['x-api-key']).toBe('sk-ant-test-0')
    expect(r.apiKey).toBe('sk-ant-test-0')
    expect(r.headers['anthropic-version']).toBe('2023-06-01')
    await c0.beta.messages.create({ ...base, betas: ['interleaved-thinking-2025-05-14'] })
    expect(mock.requests[1]!.path).toBe('/v1/messages')
    expect(mock.requests[1]!.query).toBe('?beta=true')
    expect(mock.requests[1]!.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14')
  })
})

describe('streaming', () => {
  it('text stream: event order, ping, placeholder then cumulative usage', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'Oslo is the capital.' }], usage: { cache_read_input_tokens: 5 } })
    const stream = await client.messages.create({ ...base, stream: true })
    const events: any[] = []
    for await (const e of stream) events.push(e)
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]) // ping is skipped by the SDK
    const start = events[0].message
    expect(start).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, content: [], stop_reason: null, stop_sequence: null })
    expect(start.usage).toMatchObject({ input_tokens: 3, cache_read_input_tokens: 5, cache_creation_input_tokens: 0, output_tokens: 1, service_tier: 'standard' })
    expect(events.slice(2, 6).map((e) => e.delta.text).join('')).toBe('Oslo is the capital.')
    expect(events[7]).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 5, output_tokens: 4 },
    })
  })

  it('raw SSE framing: event line on every message, ping after message_start, content-type', async () => {
    const res = await rawPost({ ...base, stream: true })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(res.headers.get('request-id')).toMatch(/^req_/)
    const msgs = parseSse(await res.text())
    expect(msgs[0]!.event).toBe('message_start')
    expect(msgs[1]!.event).toBe('ping')
    expect(msgs.at(-1)!.event).toBe('message_stop')
    expect(msgs.at(-2)!.event).toBe('message_delta')
  })

  it('tool_use stream is reassembled by finalMessage()', async () => {
    mock.enqueue({
      kind: 'reply',
      content: [
        { type: 'thinking', thinking: 'Need the weather tool.', signature: 'c2lnLTE=' },
        { type: 'text', text: 'Checking the forecast.' },
        { type: 'tool_use', id: 'toolu_01Demo', name: 'get_weather', input: { city: 'Oslo', unit: 'c' } },
        { type: 'tool_use', name: 'no_args', input: {} },
      ],
    })
    const stream = client.messages.stream({ ...base, tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] })
    const raw: any[] = []
    stream.on('streamEvent', (e) => raw.push(e))
    const msg = await stream.finalMessage()
    expect(msg.stop_reason).toBe('tool_use')
    expect(msg.content[0]).toMatchObject({ type: 'thinking', thinking: 'Need the weather tool.', signature: 'c2lnLTE=' })
    expect(msg.content[1]).toMatchObject({ type: 'text', text: 'Checking the forecast.' })
    expect(msg.content[2]).toMatchObject({ type: 'tool_use', id: 'toolu_01Demo', name: 'get_weather', input: { city: 'Oslo', unit: 'c' } })
    expect(msg.content[3]).toMatchObject({ type: 'tool_use', name: 'no_args', input: {} })
    expect(msg.usage.output_tokens).toBe(4 + 3 + 2 * TOOL_USE_TOKENS)

    const toolDeltas = raw.filter((e) => e.type === 'content_block_delta' && e.index === 2).map((e) => e.delta)
    expect(toolDeltas[0]).toEqual({ type: 'input_json_delta', partial_json: '' })
    expect(toolDeltas.length).toBeGreaterThanOrEqual(3) // "" + ≥2 fragments
    const start = raw.find((e) => e.type === 'content_block_start' && e.index === 2)
    expect(start.content_block).toEqual({ type: 'tool_use', id: 'toolu_01Demo', name: 'get_weather', input: {} })
    // no-arg tool: only the empty fragment
    expect(raw.filter((e) => e.type === 'content_block_delta' && e.index === 3).map((e) => e.delta.partial_json)).toEqual([''])
    // thinking: thinking_delta(s) then exactly one signature_delta right before the stop
    const thinking = raw.filter((e) => e.index === 0).map((e) => e.delta?.type ?? e.type)
    expect(thinking[0]).toBe('content_block_start')
    expect(thinking.slice(-2)).toEqual(['signature_delta', 'content_block_stop'])
    expect(thinking.filter((t) => t === 'thinking_delta').length).toBeGreaterThan(1)
  })

  it('stop sequence and max_tokens apply to streams', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'alpha beta END gamma' }] })
    const m1 = await client.messages.stream({ ...base, stop_sequences: ['END'] }).finalMessage()
    expect(m1.content).toMatchObject([{ type: 'text', text: 'alpha beta ' }])
    expect(m1.stop_reason).toBe('stop_sequence')
    expect(m1.stop_sequence).toBe('END')
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'alpha beta gamma' }] })
    const m2 = await client.messages.stream({ ...base, max_tokens: 2 }).finalMessage()
    expect(m2.content).toMatchObject([{ type: 'text', text: 'alpha beta' }])
    expect(m2.stop_reason).toBe('max_tokens')
    expect(m2.usage.output_tokens).toBe(2)
  })

  it('chunkDelayMs: events arrive incrementally', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'a b c d e' }], chunkDelayMs: 40 })
    const res = await rawPost({ ...base, stream: true })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    const t0 = Date.now()
    const first = decoder.decode((await reader.read()).value)
    expect(first).toContain('event: message_start')
    expect(first).not.toContain('message_stop')
    const arrivals: number[] = []
    let all = first
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      arrivals.push(Date.now() - t0)
      all += decoder.decode(value)
    }
    expect(arrivals.length).toBeGreaterThan(5)
    expect(arrivals.at(-1)!).toBeGreaterThan(300) // 11 events → 10 gaps × 40 ms
    expect(parseSse(all).at(-1)!.event).toBe('message_stop')
  })

  it('mid-stream error after HTTP 200 rejects the SDK stream; no message_stop', async () => {
    mock.enqueue({ kind: 'midstream-error', content: [{ type: 'text', text: 'partial answer' }, { type: 'text', text: 'more' }] })
    const stream = client.messages.stream(base)
    const texts: string[] = []
    stream.on('text', (t) => texts.push(t))
    const err = await stream.finalMessage().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(APIError)
    expect((err as APIError).status).toBeUndefined()
    expect((err as APIError).type).toBe('overloaded_error')
    expect(texts.join('')).toBe('partial answer')

    mock.enqueue({ kind: 'midstream-error', afterBlocks: 0, type: 'api_error', message: 'boom' })
    const res = await rawPost({ ...base, stream: true })
    expect(res.status).toBe(200)
    const msgs = parseSse(await res.text())
    expect(msgs.map((m) => m.event)).toEqual(['message_start', 'ping', 'error'])
    expect(msgs[2]!.data).toMatchObject({ type: 'error', error: { type: 'api_error', message: 'boom' }, request_id: res.headers.get('request-id') })
  })

  it('midstream-error on a non-stream request becomes the matching HTTP error', async () => {
    mock.enqueue({ kind: 'midstream-error' })
    await expect(client.messages.create(base)).rejects.toMatchObject({ status: 529, type: 'overloaded_error' })
  })
})

describe('errors', () => {
  it('429 → RateLimitError with retry-after, request id and typed body', async () => {
    mock.enqueue({ kind: 'error', status: 429 })
    const err = await client.messages.create(base).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RateLimitError)
    const e = err as RateLimitError
    expect(e.status).toBe(429)
    expect(e.headers.get('retry-after')).toBe('1')
    expect(e.requestID).toMatch(/^req_/)
    expect(e.error).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) }, request_id: e.requestID })
  })

  it('529 → OverloadedError (1.x) / InternalServerError (0.x) with status 529', async () => {
    mock.enqueue({ kind: 'error', status: 529 }, { kind: 'error', status: 529, headers: { 'retry-after': '3' } })
    const err = await client.messages.create(base).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OverloadedError)
    expect(err).toBeInstanceOf(InternalServerError)
    expect((err as APIError).status).toBe(529)
    expect((err as APIError).type).toBe('overloaded_error')
    const c0 = new Anthropic0x({ baseURL: mock.url, apiKey: 'k', maxRetries: 0 })
    const err0 = await c0.messages.create(base).catch((e: unknown) => e)
    expect(err0).toBeInstanceOf(InternalServerError0x)
    expect((err0 as any).status).toBe(529)
    expect((err0 as any).headers.get('retry-after')).toBe('3')
  })

  it('status ↔ type pairs for every listed status', async () => {
    const cases: Array<[number, string, new (...a: any[]) => APIError]> = [
      [400, 'invalid_request_error', BadRequestError],
      [401, 'authentication_error', AuthenticationError],
      [403, 'permission_error', PermissionDeniedError],
      [404, 'not_found_error', NotFoundError],
      [413, 'request_too_large', ContentTooLargeError],
      [500, 'api_error', InternalServerError],
    ]
    for (const [status, type, cls] of cases) {
      mock.enqueue({ kind: 'error', status, message: `m${status}` })
      const err = await client.messages.create(base).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(cls)
      expect(err).toMatchObject({ status, type, error: { type: 'error', error: { type, message: `m${status}` } } })
    }
  })

  it('rawBody errors are sent verbatim (non-JSON)', async () => {
    mock.enqueue({ kind: 'error', status: 413, rawBody: '<html><body>413 Request Entity Too Large</body></html>' })
    const res = await rawPost(base)
    expect(res.status).toBe(413)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    expect(await res.text()).toContain('413 Request Entity Too Large')
    expect(res.headers.get('request-id')).toMatch(/^req_/)
  })

  it('auth: missing key → 401, validKeys enforced, both header styles accepted', async () => {
    const noKey = await fetch(mock.url + '/v1/messages', { method: 'POST', headers: { 'anthropic-version': '2023-06-01' }, body: JSON.stringify(base) })
    expect(noKey.status).toBe(401)
    expect(await noKey.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' }, request_id: expect.stringMatching(/^req_/) })
    mock.validKeys = new Set(['sk-ant-good'])
    await expect(client.messages.create(base)).rejects.toBeInstanceOf(AuthenticationError)
    const good = new Anthropic({ baseURL: mock.url, apiKey: 'sk-ant-good', maxRetries: 0 })
    await expect(good.messages.create(base)).resolves.toMatchObject({ type: 'message' })
    expect((await rawPost(base, { 'x-api-key': 'sk-ant-good' })).status).toBe(200)
    expect(mock.requests).toHaveLength(4) // rejected requests are recorded too
    expect(mock.requests[0]!.apiKey).toBeUndefined()
  })

  it('validKeys option of startMockAnthropic', async () => {
    const m2 = await startMockAnthropic({ validKeys: ['only'] })
    try {
      const c = (k: string) => new Anthropic({ baseURL: m2.url, apiKey: k, maxRetries: 0 })
      await expect(c('nope').messages.create(base)).rejects.toBeInstanceOf(AuthenticationError)
      await expect(c('only').messages.create(base)).resolves.toBeDefined()
    } finally {
      await m2.close()
    }
  })

  it('request validation', async () => {
    const bad = async (body: unknown, headers: Record<string, string> = {}) => {
      const res = await rawPost(body, headers)
      expect(res.status).toBe(400)
      const j: any = await res.json()
      expect(j.type).toBe('error')
      expect(j.error.type).toBe('invalid_request_error')
      return j.error.message as string
    }
    expect(await bad(base, { 'anthropic-version': '' })).toMatch(/anthropic-version/)
    expect(await bad({ model: MODEL, messages: base.messages })).toContain('max_tokens: Field required')
    expect(await bad({ ...base, max_tokens: 0 })).toMatch(/max_tokens/)
    expect(await bad({ ...base, max_tokens: 1.5 })).toMatch(/max_tokens/)
    expect(await bad({ ...base, model: undefined })).toMatch(/model/)
    expect(await bad({ ...base, messages: [] })).toMatch(/messages/)
    expect(await bad('{"model": ')).toMatch(/JSON/)
    expect(await bad({ ...base, temperature: 1 }, { 'anthropic-version': '2026-10-21' })).toMatch(/temperature/)
    expect(await bad({ ...base, top_k: 5 }, { 'anthropic-version': '2026-10-21' })).toMatch(/top_k/)
    expect((await rawPost({ ...base, temperature: 1 })).status).toBe(200) // fine on 2023-06-01
    // the 1.x SDK (2026-10-21) gets a BadRequestError for temperature
    await expect(client.messages.create({ ...base, temperature: 0.2 } as any)).rejects.toBeInstanceOf(BadRequestError)
    // validation does not consume the queue
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'queued' }] })
    await bad({ ...base, max_tokens: undefined })
    expect(((await client.messages.create(base)).content[0] as any).text).toBe('queued')
  })

  it('unknown path → 404 not_found_error', async () => {
    const res = await fetch(mock.url + '/v1/nope', { headers: { 'x-api-key': 'k' } })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'not_found_error' } })
    expect(mock.requests[0]!.path).toBe('/v1/nope')
  })
})

describe('count_tokens and models', () => {
  it('count_tokens returns the same estimate', async () => {
    const params = { model: MODEL, system: 'you are terse', messages: [{ role: 'user' as const, content: 'count these four words' }] }
    const r = await client.messages.countTokens(params)
    expect(r).toEqual({ input_tokens: 7 })
    const full = await client.messages.create({ ...params, max_tokens: 10 })
    expect(full.usage.input_tokens).toBe(7)
    expect(mock.requests[0]!.path).toBe('/v1/messages/count_tokens')
    const res = await rawPost({ model: MODEL }, {}, '/v1/messages/count_tokens')
    expect(res.status).toBe(400)
  })

  it('count_tokens does not consume the queue; per-key errors apply', async () => {
    mock.enqueue({ kind: 'error', status: 500 })
    await expect(client.messages.countTokens(base)).resolves.toEqual({ input_tokens: 3 })
    await expect(client.messages.create(base)).rejects.toBeInstanceOf(InternalServerError)
    mock.forKey('sk-ant-test-1', { kind: 'error', status: 403 })
    await expect(client.messages.countTokens(base)).rejects.toBeInstanceOf(PermissionDeniedError)
  })

  it('GET /v1/models in the Anthropic list shape', async () => {
    const page = await client.models.list()
    expect(page.data.map((m) => m.id)).toEqual(MOCK_MODELS.map((m) => m.id))
    const res = await fetch(mock.url + '/v1/models', { headers: { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' } })
    const j: any = await res.json()
    expect(j).toMatchObject({ has_more: false, first_id: MOCK_MODELS[0]!.id, last_id: MOCK_MODELS.at(-1)!.id })
    expect(j.data[0]).toEqual({ type: 'model', ...MOCK_MODELS[0] })
    const one = await client.models.retrieve(MODEL)
    expect(one.id).toBe(MODEL)
    await expect(client.models.retrieve('claude-nope')).rejects.toBeInstanceOf(NotFoundError)
  })
})

describe('connection scenarios', () => {
  it('hang: client timeout aborts and is recorded', async () => {
    mock.enqueue({ kind: 'hang' })
    const c = new Anthropic({ baseURL: mock.url, apiKey: 'k', maxRetries: 0, timeout: 200 })
    await expect(c.messages.create(base)).rejects.toBeInstanceOf(APIConnectionTimeoutError)
    await until(() => mock.requests[0]?.aborted === true)
    expect(mock.requests[0]!.body).toEqual(base)
  })

  it('hang-after-start: 200 + message_start, then idle; abort is recorded', async () => {
    mock.enqueue({ kind: 'hang-after-start' })
    const ac = new AbortController()
    const res = await rawPost({ ...base, stream: true }, {}, '/v1/messages', ac.signal)
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    expect(parseSse(first).map((m) => m.event)).toEqual(['message_start'])
    const next = await Promise.race([reader.read().then(() => 'data'), new Promise((r) => setTimeout(() => r('idle'), 150))])
    expect(next).toBe('idle')
    expect(mock.requests[0]!.aborted).toBe(false)
    ac.abort()
    await until(() => mock.requests[0]!.aborted)
  })

  it('drop: connection error without response, not marked aborted', async () => {
    mock.enqueue({ kind: 'drop' })
    await expect(client.messages.create(base)).rejects.toBeInstanceOf(APIConnectionError)
    await new Promise((r) => setTimeout(r, 50))
    expect(mock.requests[0]!.aborted).toBe(false)
  })

  it('client abort in the middle of a slow stream is recorded', async () => {
    mock.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'a b c d e f g h' }], chunkDelayMs: 50 })
    const stream = client.messages.stream(base)
    const done = stream.done().catch((e: unknown) => e)
    await new Promise<void>((r) => stream.on('text', () => r()))
    stream.abort()
    expect(await done).toBeInstanceOf(APIUserAbortError)
    await until(() => mock.requests[0]!.aborted)
  })

  it('close() ends hanging connections promptly', async () => {
    const m2 = await startMockAnthropic()
    m2.enqueue({ kind: 'hang' }, { kind: 'hang-after-start' })
    const c = new Anthropic({ baseURL: m2.url, apiKey: 'k', maxRetries: 0 })
    const p1 = c.messages.create(base).catch((e: unknown) => e)
    const s2 = await c.messages.create({ ...base, stream: true })
    const p2 = (async () => { for await (const _ of s2) { /* drain */ } })().catch((e: unknown) => e)
    await until(() => m2.requests.length === 2)
    const t0 = Date.now()
    await m2.close()
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(await p1).toBeInstanceOf(APIConnectionError)
    await p2 // resolves or rejects, but does not hang
    expect(m2.requests.every((r) => !r.aborted)).toBe(true)
  })
})
