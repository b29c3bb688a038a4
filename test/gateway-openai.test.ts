import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import { startTestGateway, eventually, type TestGateway } from './support/gateway.ts'

let t: TestGateway
let token: string
const client = () => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })
const MODEL = 'claude-sonnet-4-5-20250929'
const lastUpstream = () => t.upstream.requests.at(-1)!

beforeAll(async () => {
  t = await startTestGateway({ claude: { default_max_tokens: 333 } })
  token = (await t.mintToken({ name: 'bob' })).token
})
afterAll(() => t.close())
beforeEach(() => {
  t.upstream.reset()
  t.gateway.services.pool.setAccounts([])
  return t.gateway.services.accounts.reload()
})

describe('POST /v1/chat/completions', () => {
  it('translates a non-streamed multi-turn conversation both ways', async () => {
    const res = await client().chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'second question please' },
      ],
      temperature: 0.4,
    })
    expect(res).toMatchObject({
      object: 'chat.completion',
      model: MODEL,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Echo: second question please' }, finish_reason: 'stop' }],
    })
    expect(res.id).toMatch(/^chatcmpl-/)
    expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens)
    const sent = lastUpstream()
    expect(sent.headers['anthropic-version']).toBe('2023-06-01')
    expect(sent.body.system).toEqual([
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: 'Answer in English.' },
    ])
    expect(sent.body.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user'])
    expect(sent.body.max_tokens).toBe(333) // the configured default when the client sets none
    expect(sent.body.temperature).toBe(0.4)
  })

  it('streams chunks ending with usage and [DONE] when include_usage is set', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'alpha beta gamma' }], usage: { input_tokens: 412, cache_read_input_tokens: 2048, cache_creation_input_tokens: 0 } })
    const stream = await client().chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant')
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('alpha beta gamma')
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop')
    const usage = chunks.at(-1)!.usage!
    expect(chunks.at(-1)!.choices).toEqual([])
    expect(usage).toMatchObject({ prompt_tokens: 2460, completion_tokens: 3, total_tokens: 2463, prompt_tokens_details: { cached_tokens: 2048 } })
    expect(lastUpstream().body.stream).toBe(true)
    expect(lastUpstream().body.stream_options).toBeUndefined()
    await eventually(() => expect(t.exchanges.at(-1)).toMatchObject({ endpoint: 'chat.completions', stream: true, usage: { input_tokens: 412, output_tokens: 3 } }))
  })

  it('ends the raw stream with data: [DONE]', async () => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'raw' }] }),
    })
    const text = await res.text()
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true)
    expect(text).not.toContain('event:')
  })

  it('streams tool calls whose argument fragments the SDK reassembles, and takes tool results back', async () => {
    t.upstream.enqueue({
      kind: 'reply',
      content: [
        { type: 'text', text: 'Checking the forecast.' },
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Oslo', unit: 'c' } },
        { type: 'tool_use', id: 'toolu_02', name: 'get_time', input: {} },
      ],
    })
    const tools = [
      { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
      { type: 'function' as const, function: { name: 'get_time' } },
    ]
    const final = await client()
      .chat.completions.stream({ model: MODEL, messages: [{ role: 'user', content: 'weather in Oslo?' }], tools, tool_choice: 'required', parallel_tool_calls: false })
      .finalChatCompletion()
    const choice = final.choices[0]!
    expect(choice.finish_reason).toBe('tool_calls')
    expect(choice.message.tool_calls).toEqual([
      { id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo","unit":"c"}' } },
      { id: 'toolu_02', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ])
    expect(lastUpstream().body.tools[1]).toEqual({ name: 'get_time', input_schema: { type: 'object', properties: {} } })
    expect(lastUpstream().body.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true })

    await client().chat.completions.create({
      model: MODEL,
      tools,
      messages: [
        { role: 'user', content: 'weather in Oslo?' },
        { role: 'assistant', content: null, tool_calls: choice.message.tool_calls! as any },
        { role: 'tool', tool_call_id: 'toolu_01', content: '12 degrees' },
        { role: 'tool', tool_call_id: 'toolu_02', content: '09:00' },
      ],
    })
    const sent = lastUpstream().body.messages
    expect(sent[1].content).toEqual([
      { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Oslo', unit: 'c' } },
      { type: 'tool_use', id: 'toolu_02', name: 'get_time', input: {} },
    ])
    expect(sent[2]).toMatchObject({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01' }, { type: 'tool_result', tool_use_id: 'toolu_02' }] })
  })

  it('sends images from data URLs and http URLs', async () => {
    await client().chat.completions.create({
      model: MODEL,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is in these?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    })
    expect(lastUpstream().body.messages[0].content).toEqual([
      { type: 'text', text: 'what is in these?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ])
  })

  it('honours stop sequences and max_tokens with the right finish_reason', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'one two STOP three' }] })
    const stopped = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], stop: 'STOP' })
    expect(lastUpstream().body.stop_sequences).toEqual(['STOP'])
    expect(stopped.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: 'one two ' } })

    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'a b c d e f g' }] })
    const cut = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 3 })
    expect(lastUpstream().body.max_tokens).toBe(3)
    expect(cut.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'a b c' } })
    expect(cut.usage!.completion_tokens).toBe(3)
  })

  it('maps reasoning_effort to a thinking budget', async () => {
    await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'think' }], reasoning_effort: 'low', max_tokens: 500 })
    const body = lastUpstream().body
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 })
    expect(body.max_tokens).toBeGreaterThan(1024)
  })

  it('turns a mid-stream upstream error into a final error chunk the SDK raises', async () => {
    t.upstream.enqueue({ kind: 'midstream-error', afterBlocks: 1, type: 'overloaded_error', message: 'Overloaded', content: [{ type: 'text', text: 'partial' }, { type: 'text', text: 'lost' }] })
    const stream = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], stream: true })
    let text = ''
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
    })().catch((e) => e)
    expect(text).toBe('partial')
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect(String(err.message)).toContain('Overloaded')
  })

  it.each([
    [401, 'authentication_error', 502],
    [429, 'rate_limit_error', 429],
    [529, 'overloaded_error', 529],
  ])('upstream %i on every account reaches the client as %s / %i', async (status, type, expected) => {
    for (let i = 0; i < 3; i++) t.upstream.enqueue({ kind: 'error', status, type, message: `upstream says ${status}` })
    const err = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect(err.status).toBe(expected)
    expect(err.error).toMatchObject({ type: expected === 502 ? 'api_error' : type, param: null })
  })

  it('rejects what it cannot translate with an OpenAI 400 naming the parameter', async () => {
    const err = await client().chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], n: 2 }).catch((e) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect(err.error).toMatchObject({ type: 'invalid_request_error', param: 'n' })
    expect(t.upstream.requests).toHaveLength(0)
  })
})
