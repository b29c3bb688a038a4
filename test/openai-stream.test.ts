import { describe, expect, it } from 'vitest'
import { ChatStreamTranslator } from '../src/gateway/openai/index.ts'
import type { ChatCompletionChunk } from '../src/gateway/openai/index.ts'

// wire-formats.md §3.1, verbatim.
const TEXT_STREAM = String.raw`
event: message_start
data: {"type":"message_start","message":{"id":"msg_01DemoText0001","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":18,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":1,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Oslo is"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the capital of Norway."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"input_tokens":18,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":9}}

event: message_stop
data: {"type":"message_stop"}

`

// wire-formats.md §3.2, verbatim.
const TOOL_STREAM = String.raw`
event: message_start
data: {"type":"message_start","message":{"id":"msg_01DemoTool0001","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":380,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":4,"service_tier":"standard"}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking the forecast."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01DemoToolUse0002","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Os"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"lo\", \"unit\": \"c\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":380,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":61}}

event: message_stop
data: {"type":"message_stop"}

`

// wire-formats.md §6.2: the OpenAI translation of §3.2 with include_usage on, verbatim.
const TOOL_STREAM_AS_OPENAI = String.raw`
data: {"id":"chatcmpl-demo0002","object":"chat.completion.chunk","created":1764300000,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-demo0002","object":"chat.completion.chunk","created":1764300000,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"content":"Checking the forecast."},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-demo0002","object":"chat.completion.chunk","created":1764300000,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"toolu_01DemoToolUse0002","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-demo0002","object":"chat.completion.chunk","created":1764300000,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Os"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-demo0002","object":"chat.completion.chunk","created":1764300000,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"lo\", \"unit\": \"c\"}"}}]},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-demo0002","object":"chat.completion.chunk","created":1764300000,"model":"claude-sonnet-4-5-20250929","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-demo0002","object":"chat.completion.chunk","created":1764300000,"model":"claude-sonnet-4-5-20250929","choices":[],"usage":{"prompt_tokens":380,"completion_tokens":61,"total_tokens":441,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":0}}}

data: [DONE]

`

interface SseEvent {
  event: string
  data: unknown
}

/** Splits SSE text into events: `event:` names the event, `data:` carries its JSON. */
function parseSse(text: string): SseEvent[] {
  return text
    .split(/\n\n+/)
    .map((frame) => frame.trim())
    .filter((frame) => frame !== '')
    .map((frame) => {
      const lines = frame.split('\n')
      const field = (name: string) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? ''
      return { event: field('event'), data: JSON.parse(field('data')) }
    })
}

/** The `data:` payloads of an OpenAI stream, without the [DONE] sentinel. */
function openAIPayloads(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice('data: '.length)))
}

function sse(event: string, data: Record<string, unknown>): SseEvent {
  return { event, data: { type: event, ...data } }
}

function run(events: SseEvent[], opts: Partial<ConstructorParameters<typeof ChatStreamTranslator>[0]> = {}) {
  const translator = new ChatStreamTranslator({
    id: 'chatcmpl-demo0002',
    created: 1764300000,
    includeUsage: false,
    requestedModel: 'claude-sonnet-4-5',
    ...opts,
  })
  const chunks = events.flatMap(({ event, data }) => translator.push(event, data))
  return { translator, chunks }
}

const deltas = (chunks: ChatCompletionChunk[]) => chunks.map((c) => c.choices[0]?.delta)
const start = (usage: Record<string, unknown> = { input_tokens: 10, output_tokens: 1 }, model = 'claude-sonnet-4-5-20250929') =>
  sse('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage } })
const toolStart = (index: number, id: string, name: string) =>
  sse('content_block_start', { index, content_block: { type: 'tool_use', id, name, input: {} } })
const jsonDelta = (index: number, partial_json: string) => sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } })
const textDelta = (index: number, text: string) => sse('content_block_delta', { index, delta: { type: 'text_delta', text } })
const blockStop = (index: number) => sse('content_block_stop', { index })
const messageDelta = (stop_reason: string, usage: Record<string, unknown>) =>
  sse('message_delta', { delta: { stop_reason, stop_sequence: null }, usage })
const stop = sse('message_stop', {})

describe('ChatStreamTranslator', () => {
  it('vector 1: the §3.1 text stream → role, two content chunks, finish "stop"', () => {
    const { translator, chunks } = run(parseSse(TEXT_STREAM))
    expect(chunks).toEqual([
      {
        id: 'chatcmpl-demo0002',
        object: 'chat.completion.chunk',
        created: 1764300000,
        model: 'claude-sonnet-4-5-20250929',
        choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
      },
      {
        id: 'chatcmpl-demo0002',
        object: 'chat.completion.chunk',
        created: 1764300000,
        model: 'claude-sonnet-4-5-20250929',
        choices: [{ index: 0, delta: { content: 'Oslo is' }, logprobs: null, finish_reason: null }],
      },
      {
        id: 'chatcmpl-demo0002',
        object: 'chat.completion.chunk',
        created: 1764300000,
        model: 'claude-sonnet-4-5-20250929',
        choices: [{ index: 0, delta: { content: ' the capital of Norway.' }, logprobs: null, finish_reason: null }],
      },
      {
        id: 'chatcmpl-demo0002',
        object: 'chat.completion.chunk',
        created: 1764300000,
        model: 'claude-sonnet-4-5-20250929',
        choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }],
      },
    ])
    expect(chunks.every((c) => !('usage' in c))).toBe(true)
    expect(translator.finished).toBe(true)
    expect(translator.finishReason).toBe('stop')
    expect(translator.usage).toEqual({
      prompt_tokens: 18,
      completion_tokens: 9,
      total_tokens: 27,
      prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
    })
  })

  it('vector 2: the §3.2 tool stream with include_usage → exactly the §6.2 chunks', () => {
    const { translator, chunks } = run(parseSse(TOOL_STREAM), { includeUsage: true })
    expect(chunks).toEqual(openAIPayloads(TOOL_STREAM_AS_OPENAI))
    // byte for byte, key order included
    expect(chunks.map((c) => `data: ${JSON.stringify(c)}`)).toEqual(
      TOOL_STREAM_AS_OPENAI.split('\n').filter((l) => l.startsWith('data: {')),
    )
    expect(translator.finishReason).toBe('tool_calls')
  })

  it('vector 3: a tool call without argument text gets "{}"', () => {
    const { chunks } = run([
      start(),
      toolStart(0, 'toolu_noargs', 'get_time'),
      jsonDelta(0, ''),
      blockStop(0),
      messageDelta('tool_use', { output_tokens: 12 }),
      stop,
    ])
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { tool_calls: [{ index: 0, id: 'toolu_noargs', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{}' } }] },
      {},
    ])
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls')
  })

  it('vector 4: message_delta input_tokens that differ from message_start win', () => {
    const { translator, chunks } = run(
      [
        start({ input_tokens: 43, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 }),
        sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        textDelta(0, 'Hi'),
        blockStop(0),
        messageDelta('end_turn', { input_tokens: 61, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 5 }),
        stop,
      ],
      { includeUsage: true },
    )
    expect(chunks.at(-1)).toEqual({
      id: 'chatcmpl-demo0002',
      object: 'chat.completion.chunk',
      created: 1764300000,
      model: 'claude-sonnet-4-5-20250929',
      choices: [],
      usage: { prompt_tokens: 61, completion_tokens: 5, total_tokens: 66, prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 } },
    })
    expect(translator.usage.prompt_tokens).toBe(61)
  })

  it('keeps message_start input and cache counts when message_delta has only output_tokens (older streams)', () => {
    const { translator } = run([
      start({ input_tokens: 412, cache_creation_input_tokens: 0, cache_read_input_tokens: 2048, output_tokens: 1 }),
      messageDelta('end_turn', { output_tokens: 57, input_tokens: null }),
      stop,
    ])
    // vector 7 through the stream
    expect(translator.usage).toEqual({
      prompt_tokens: 2460,
      completion_tokens: 57,
      total_tokens: 2517,
      prompt_tokens_details: { cached_tokens: 2048, cache_write_tokens: 0 },
    })
  })

  it('takes the latest of several message_delta events and emits one finish chunk', () => {
    const { translator, chunks } = run([
      start(),
      messageDelta('max_tokens', { output_tokens: 50 }),
      messageDelta('max_tokens', { output_tokens: 64 }),
      stop,
    ])
    expect(chunks.filter((c) => c.choices[0]?.finish_reason !== null)).toHaveLength(1)
    expect(translator.finishReason).toBe('length')
    expect(translator.usage.completion_tokens).toBe(64)
  })

  it('vector 5: ping anywhere and unknown events change nothing', () => {
    const events = parseSse(TEXT_STREAM).filter((e) => e.event !== 'ping')
    const noisy = events.flatMap((e) => [e, sse('ping', {}), sse('some_future_event', { payload: 1 })])
    expect(run([sse('ping', {}), ...noisy]).chunks).toEqual(run(events).chunks)
    expect(run([sse('ping', {})]).chunks).toEqual([])
  })

  it('vector 6: an error after partial text → the OpenAI error payload, not finished', () => {
    const translator = new ChatStreamTranslator({ id: 'c', created: 1, includeUsage: true, requestedModel: 'm' })
    const events = parseSse(TEXT_STREAM).slice(0, 4) // message_start, block start, ping, first text delta
    const chunks = events.flatMap((e) => translator.push(e.event, e.data))
    expect(deltas(chunks)).toEqual([{ role: 'assistant', content: '' }, { content: 'Oslo is' }])
    expect(translator.error({ type: 'overloaded_error', message: 'Overloaded' })).toEqual({
      error: { message: 'Overloaded', type: 'overloaded_error', param: null, code: null },
    })
    expect(translator.finished).toBe(false)
    expect(translator.finishReason).toBeNull()
  })

  it('an error without type or message still yields a usable payload', () => {
    const translator = new ChatStreamTranslator({ id: 'c', created: 1, includeUsage: false, requestedModel: 'm' })
    expect(translator.error({ type: '', message: '' })).toEqual({
      error: { message: 'The upstream stream failed.', type: 'api_error', param: null, code: null },
    })
  })

  it('thinking_delta → reasoning_content; signature_delta → nothing', () => {
    const { chunks } = run([
      start(),
      sse('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
      sse('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Norway…' } }),
      sse('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM' } }),
      blockStop(0),
      sse('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
      textDelta(1, 'Oslo.'),
      blockStop(1),
      messageDelta('end_turn', { output_tokens: 20 }),
      stop,
    ])
    expect(deltas(chunks)).toEqual([{ role: 'assistant', content: '' }, { reasoning_content: 'Norway…' }, { content: 'Oslo.' }, {}])
  })

  it('numbers tool calls among themselves, not by Anthropic block index', () => {
    const { chunks } = run([
      start(),
      sse('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
      blockStop(0),
      toolStart(1, 'toolu_a', 'get_weather'),
      jsonDelta(1, '{"city":"Oslo"}'),
      blockStop(1),
      sse('content_block_start', { index: 2, content_block: { type: 'text', text: '' } }),
      textDelta(2, 'and'),
      blockStop(2),
      toolStart(3, 'toolu_b', 'get_weather'),
      jsonDelta(3, '{"city":'),
      jsonDelta(3, '"Bergen"}'),
      blockStop(3),
      messageDelta('tool_use', { output_tokens: 80 }),
      stop,
    ])
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { tool_calls: [{ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] },
      { content: 'and' },
      { tool_calls: [{ index: 1, id: 'toolu_b', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '"Bergen"}' } }] },
      {},
    ])
  })

  it('with include_usage every chunk but the last carries usage null; without it there is no usage chunk', () => {
    const withUsage = run(parseSse(TEXT_STREAM), { includeUsage: true }).chunks
    expect(withUsage.slice(0, -1).every((c) => c.usage === null && c.choices.length === 1)).toBe(true)
    expect(withUsage.at(-1)?.choices).toEqual([])
    expect(withUsage.at(-1)?.usage?.total_tokens).toBe(27)

    const without = run(parseSse(TEXT_STREAM)).chunks
    expect(without).toHaveLength(withUsage.length - 1)
    expect(without.every((c) => c.choices.length === 1)).toBe(true)
  })

  it('names chunks after the requested model until message_start names one', () => {
    const { chunks } = run([sse('message_start', { message: { usage: { input_tokens: 1 } } })])
    expect(chunks[0]?.model).toBe('claude-sonnet-4-5')
  })
})
