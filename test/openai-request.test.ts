import { describe, expect, it } from 'vitest'
import {
  TranslationError,
  parseChatCompletionRequest,
  samplingLimits,
  toAnthropicRequest,
} from '../src/gateway/openai/index.ts'
import type { AnthropicRequest } from '../src/gateway/openai/index.ts'

const MODEL = 'claude-sonnet-4-5-20250929'
const PNG = 'iVBORw0KGgo='
const PDF = 'JVBERi0xLjQK'

/** Validate and translate, as the route does. */
function translate(body: Record<string, unknown>, defaultMaxTokens = 4096): AnthropicRequest {
  return toAnthropicRequest(parseChatCompletionRequest({ model: MODEL, ...body }), { defaultMaxTokens })
}

const user = (content: unknown) => ({ role: 'user', content })
const text = (t: string) => ({ type: 'text', text: t })
const weatherTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
}

function translationError(fn: () => unknown): TranslationError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(TranslationError)
    return err as TranslationError
  }
  throw new Error('expected a TranslationError')
}

describe('chatCompletionRequestSchema via parseChatCompletionRequest', () => {
  const hi = [user('hi')]
  const invalid: Array<[string, unknown, string | null, RegExp]> = [
    ['body is not an object', null, null, /expected object/],
    ['missing model', { messages: hi }, 'model', /expected string/],
    ['empty model', { model: '', messages: hi }, 'model', /Too small/],
    ['empty messages', { model: MODEL, messages: [] }, 'messages', />=1 items/],
    ['messages not an array', { model: MODEL, messages: 'hi' }, 'messages', /expected array/],
    ['unknown role', { model: MODEL, messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', /unknown role/],
    [
      'deprecated function role',
      { model: MODEL, messages: [...hi, { role: 'function', name: 'f', content: 'x' }] },
      'messages[1]',
      /"function" role is not supported/,
    ],
    ['content of the wrong type', { model: MODEL, messages: [user(42)] }, 'messages[0].content', /a string or an array of content parts/],
    ['text part without text', { model: MODEL, messages: [user([text('a'), { type: 'text', text: 7 }])] }, 'messages[0].content[1].text', /expected string/],
    ['unknown part type', { model: MODEL, messages: [user([{ type: 'video', video: {} }])] }, 'messages[0].content[0].type', /unknown content part type/],
    [
      'input_audio part',
      { model: MODEL, messages: [user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }])] },
      'messages[0].content[0]',
      /audio input is not supported/,
    ],
    ['image part without url', { model: MODEL, messages: [user([{ type: 'image_url', image_url: {} }])] }, 'messages[0].content[0].image_url.url', /expected string/],
    ['image in a system message', { model: MODEL, messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'http://x' } }] }, ...hi] }, 'messages[0].content[0].type', /expected "text"/],
    ['tool message without tool_call_id', { model: MODEL, messages: [...hi, { role: 'tool', content: 'x' }] }, 'messages[1].tool_call_id', /expected string/],
    [
      'tool call without arguments',
      { model: MODEL, messages: [...hi, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f' } }] }] },
      'messages[1].tool_calls[0].function.arguments',
      /expected string/,
    ],
    ['temperature above 2', { model: MODEL, messages: hi, temperature: 2.5 }, 'temperature', /<=2/],
    ['temperature as a string', { model: MODEL, messages: hi, temperature: 'hot' }, 'temperature', /expected number/],
    ['top_p above 1', { model: MODEL, messages: hi, top_p: 1.5 }, 'top_p', /<=1/],
    ['max_tokens zero', { model: MODEL, messages: hi, max_tokens: 0 }, 'max_tokens', />0/],
    ['max_tokens fractional', { model: MODEL, messages: hi, max_tokens: 1.5 }, 'max_tokens', /expected int/],
    ['max_completion_tokens negative', { model: MODEL, messages: hi, max_completion_tokens: -1 }, 'max_completion_tokens', />0/],
    ['five stop sequences', { model: MODEL, messages: hi, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', /up to 4 strings/],
    ['stream as a string', { model: MODEL, messages: hi, stream: 'yes' }, 'stream', /expected boolean/],
    ['n zero', { model: MODEL, messages: hi, n: 0 }, 'n', />=1/],
    ['custom tool', { model: MODEL, messages: hi, tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools[0].type', /only "function" tools/],
    [
      'tool name with a space',
      { model: MODEL, messages: hi, tools: [{ type: 'function', function: { name: 'get weather' } }] },
      'tools[0].function.name',
      /1 to 64 characters/,
    ],
    ['unknown tool_choice string', { model: MODEL, messages: hi, tool_choice: 'sometimes' }, 'tool_choice', /"none", "auto", "required"/],
    ['tool_choice function without name', { model: MODEL, messages: hi, tool_choice: { type: 'function', function: {} } }, 'tool_choice.function.name', /expected string/],
    ['unknown reasoning_effort', { model: MODEL, messages: hi, reasoning_effort: 'extreme' }, 'reasoning_effort', /Invalid option/],
    ['unknown response_format', { model: MODEL, messages: hi, response_format: { type: 'yaml' } }, 'response_format.type', /unknown response_format type/],
    ['json_schema without name', { model: MODEL, messages: hi, response_format: { type: 'json_schema', json_schema: {} } }, 'response_format.json_schema.name', /expected string/],
  ]

  it.each(invalid)('rejects %s', (_, body, param, message) => {
    const err = translationError(() => parseChatCompletionRequest(body))
    expect(err.param).toBe(param)
    expect(err.message).toMatch(message)
    if (param) expect(err.message).toContain(`'${param}'`)
  })

  it('accepts nulls for optional fields and keeps unknown top-level fields', () => {
    const req = parseChatCompletionRequest({
      model: MODEL,
      messages: [user('hi'), { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }],
      max_tokens: null,
      temperature: null,
      stop: null,
      n: null,
      stream: null,
      stream_options: null,
      frequency_penalty: 0.5,
      seed: 7,
    })
    expect(req.frequency_penalty).toBe(0.5)
    expect(req.seed).toBe(7)
  })
})

describe('toAnthropicRequest: messages', () => {
  const cases: Array<[string, Record<string, unknown>, Partial<AnthropicRequest>]> = [
    [
      'a single user string',
      { messages: [user('Hello')] },
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }] },
    ],
    [
      'system and developer messages anywhere become top-level system blocks in order, cache_control kept',
      {
        messages: [
          { role: 'system', content: 'You are terse.' },
          user('Hi'),
          { role: 'developer', content: [text('Answer in English.'), { type: 'text', text: 'Cached rules', cache_control: { type: 'ephemeral' } }] },
          { role: 'assistant', content: 'Hello.' },
          { role: 'system', content: '' },
          user('Bye'),
        ],
      },
      {
        system: [
          { type: 'text', text: 'You are terse.' },
          { type: 'text', text: 'Answer in English.' },
          { type: 'text', text: 'Cached rules', cache_control: { type: 'ephemeral' } },
        ],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'Hello.' }] },
          { role: 'user', content: [{ type: 'text', text: 'Bye' }] },
        ],
      },
    ],
    [
      'consecutive same-role turns merge into one message',
      { messages: [user('one'), user([text('two')]), { role: 'assistant', content: 'a' }, { role: 'assistant', content: [text('b')] }] },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
        ],
      },
    ],
    [
      'empty and whitespace-only text parts are dropped',
      { messages: [user([text(''), text('  '), text('kept')]), { role: 'assistant', content: '' }, user('')] },
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'kept' }] }] },
    ],
    [
      'user text part keeps its cache_control',
      { messages: [user([{ type: 'text', text: 'long doc', cache_control: { type: 'ephemeral', ttl: '1h' } }])] },
      { messages: [{ role: 'user', content: [{ type: 'text', text: 'long doc', cache_control: { type: 'ephemeral', ttl: '1h' } }] }] },
    ],
    [
      'vector 9: data URL image → base64 block with parsed media type; http URL → url source',
      {
        messages: [
          user([
            text('What is in these?'),
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.webp' } },
            { type: 'image_url', image_url: { url: `data:image/JPG;base64,${PNG}` } },
          ]),
        ],
      },
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.webp' } },
              { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: PNG } },
            ],
          },
        ],
      },
    ],
    [
      'PDF file parts (data URL and raw base64) become document blocks',
      {
        messages: [
          user([
            { type: 'file', file: { file_data: `data:application/pdf;base64,${PDF}`, filename: 'report.pdf' } },
            { type: 'file', file: { file_data: PDF } },
          ]),
        ],
      },
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf' },
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF } },
            ],
          },
        ],
      },
    ],
    [
      'assistant content and tool_calls → text block then tool_use blocks',
      {
        messages: [
          user('Weather in Oslo and Bergen?'),
          {
            role: 'assistant',
            content: 'Let me check.',
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          },
        ],
      },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather in Oslo and Bergen?' }] },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'Let me check.' },
              { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' } },
              { type: 'tool_use', id: 'call_2', name: 'get_time', input: {} },
            ],
          },
        ],
      },
    ],
    [
      'assistant refusal part is kept as text',
      { messages: [user('x'), { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot help with that.' }] }, user('ok')] },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'x' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'I cannot help with that.' }] },
          { role: 'user', content: [{ type: 'text', text: 'ok' }] },
        ],
      },
    ],
    [
      'vector 8: consecutive tool messages → one user message starting with all tool_results, then the user text',
      {
        messages: [
          user('Weather in Oslo and Bergen?'),
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Bergen"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '4°C, rain' },
          { role: 'tool', tool_call_id: 'call_2', content: [text('7°C, '), text('sun')] },
          user('Which is warmer?'),
        ],
      },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather in Oslo and Bergen?' }] },
          {
            role: 'assistant',
            content: [
              { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Oslo' } },
              { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Bergen' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'call_1', content: '4°C, rain' },
              { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '7°C, ' }, { type: 'text', text: 'sun' }] },
              { type: 'text', text: 'Which is warmer?' },
            ],
          },
        ],
      },
    ],
    [
      'tool_results move ahead of user text that came before them, an empty result has no content',
      {
        messages: [
          user('go'),
          { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          user('(note)'),
          { role: 'tool', tool_call_id: 'c1', content: '' },
        ],
      },
      {
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'go' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'c1' }, { type: 'text', text: '(note)' }] },
        ],
      },
    ],
  ]

  it.each(cases)('%s', (_, body, expected) => {
    expect(translate(body)).toMatchObject(expected)
  })

  it('translates a minimal request to exactly the required fields', () => {
    expect(translate({ messages: [user('Hi')] })).toEqual({
      model: MODEL,
      max_tokens: 4096,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    })
  })
})

describe('toAnthropicRequest: parameters', () => {
  const hi = [user('hi')]
  const cases: Array<[string, Record<string, unknown>, Partial<AnthropicRequest>]> = [
    ['stop string → stop_sequences', { stop: 'END' }, { stop_sequences: ['END'] }],
    ['stop array drops whitespace-only entries', { stop: ['END', ' ', '\n', '###'] }, { stop_sequences: ['END', '###'] }],
    ['max_completion_tokens wins over max_tokens', { max_completion_tokens: 300, max_tokens: 200 }, { max_tokens: 300 }],
    ['max_tokens when alone', { max_tokens: 200 }, { max_tokens: 200 }],
    ['stream is forwarded', { stream: true, stream_options: { include_usage: true } }, { stream: true }],
    [
      'tools map to name/description/input_schema; missing parameters → empty object schema',
      { tools: [weatherTool, { type: 'function', function: { name: 'now' } }] },
      {
        tools: [
          { name: 'get_weather', description: 'Weather for a city', input_schema: weatherTool.function.parameters },
          { name: 'now', input_schema: { type: 'object', properties: {} } },
        ],
      },
    ],
    ['tool_choice auto', { tools: [weatherTool], tool_choice: 'auto' }, { tool_choice: { type: 'auto' } }],
    ['tool_choice required → any', { tools: [weatherTool], tool_choice: 'required' }, { tool_choice: { type: 'any' } }],
    ['tool_choice none', { tools: [weatherTool], tool_choice: 'none' }, { tool_choice: { type: 'none' } }],
    [
      'tool_choice function → tool',
      { tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } } },
      { tool_choice: { type: 'tool', name: 'get_weather' } },
    ],
    [
      'parallel_tool_calls false on auto',
      { tools: [weatherTool], tool_choice: 'auto', parallel_tool_calls: false },
      { tool_choice: { type: 'auto', disable_parallel_tool_use: true } },
    ],
    [
      'parallel_tool_calls false on required',
      { tools: [weatherTool], tool_choice: 'required', parallel_tool_calls: false },
      { tool_choice: { type: 'any', disable_parallel_tool_use: true } },
    ],
    [
      'parallel_tool_calls false on a named tool',
      { tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } }, parallel_tool_calls: false },
      { tool_choice: { type: 'tool', name: 'get_weather', disable_parallel_tool_use: true } },
    ],
    [
      'parallel_tool_calls false without tool_choice → auto with the flag',
      { tools: [weatherTool], parallel_tool_calls: false },
      { tool_choice: { type: 'auto', disable_parallel_tool_use: true } },
    ],
    ['user → metadata.user_id', { user: 'user-7f3a9c' }, { metadata: { user_id: 'user-7f3a9c' } }],
    [
      'response_format json_schema → output_config.format',
      { response_format: { type: 'json_schema', json_schema: { name: 'city', schema: { type: 'object', properties: { name: { type: 'string' } } } } } },
      { output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { name: { type: 'string' } } } } } },
    ],
  ]

  it.each(cases)('%s', (_, body, expected) => {
    expect(translate({ messages: hi, ...body })).toMatchObject(expected)
  })

  const absent: Array<[string, Record<string, unknown>, keyof AnthropicRequest | 'stream_options' | 'frequency_penalty']> = [
    ['only whitespace stops → no stop_sequences', { stop: [' ', '\t'] }, 'stop_sequences'],
    ['stream_options is not sent upstream', { stream: true, stream_options: { include_usage: true } }, 'stream_options'],
    ['unknown top-level fields are not sent upstream', { frequency_penalty: 0.3 }, 'frequency_penalty'],
    ['tool_choice without tools is dropped', { tool_choice: 'none' }, 'tool_choice'],
    ['parallel_tool_calls without tools adds nothing', { parallel_tool_calls: false }, 'tool_choice'],
    ['empty tools are not sent', { tools: [] }, 'tools'],
    ['an email as user is not forwarded', { user: 'ada@example.com' }, 'metadata'],
    ['a phone number as user is not forwarded', { user: '+47 912 34 567' }, 'metadata'],
    ['response_format text adds nothing', { response_format: { type: 'text' } }, 'system'],
    ['reasoning_effort none → no thinking', { reasoning_effort: 'none' }, 'thinking'],
  ]

  it.each(absent)('%s', (_, body, field) => {
    expect(translate({ messages: hi, ...body })).not.toHaveProperty(field)
  })

  it('parallel_tool_calls false keeps tool_choice none without the flag', () => {
    const req = translate({ messages: hi, tools: [weatherTool], tool_choice: 'none', parallel_tool_calls: false })
    expect(req.tool_choice).toEqual({ type: 'none' })
  })

  it('max_tokens falls back to the default', () => {
    expect(translate({ messages: hi }, 1234).max_tokens).toBe(1234)
  })

  it('response_format json_object appends a JSON instruction after the client system prompt', () => {
    const req = translate({ messages: [{ role: 'system', content: 'Be brief.' }, ...hi], response_format: { type: 'json_object' } })
    expect(req.system).toHaveLength(2)
    expect(req.system?.[0]).toEqual({ type: 'text', text: 'Be brief.' })
    expect(req.system?.[1]?.text).toMatch(/JSON object/)
    expect(req).not.toHaveProperty('output_config')
  })

  it('response_format json_schema without a schema falls back to the JSON instruction', () => {
    const req = translate({ messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'free' } } })
    expect(req.system?.[0]?.text).toMatch(/JSON object/)
    expect(req).not.toHaveProperty('output_config')
  })
})

describe('toAnthropicRequest: reasoning_effort → thinking', () => {
  const budgets: Array<[string, number]> = [
    ['minimal', 1024],
    ['low', 1024],
    ['medium', 2048],
    ['high', 4096],
    ['xhigh', 8192],
    ['max', 16384],
  ]

  it.each(budgets)('%s → budget %i, max_tokens raised by the budget, sampling dropped', (effort, budget) => {
    const req = translate({ messages: [user('think')], reasoning_effort: effort, max_tokens: 500, temperature: 0.2, top_p: 0.5 })
    expect(req.thinking).toEqual({ type: 'enabled', budget_tokens: budget })
    expect(req.max_tokens).toBe(budget + 500)
    expect(req).not.toHaveProperty('temperature')
    expect(req).not.toHaveProperty('top_p')
  })

  it('raises the default max_tokens by the budget', () => {
    expect(translate({ messages: [user('think')], reasoning_effort: 'high' }, 4096).max_tokens).toBe(4096 + 4096)
  })

  it('no thinking when tool_choice forces a tool call (Anthropic rejects the combination)', () => {
    const req = translate({ messages: [user('x')], reasoning_effort: 'high', tools: [weatherTool], tool_choice: 'required', max_tokens: 100 })
    expect(req).not.toHaveProperty('thinking')
    expect(req.max_tokens).toBe(100)
  })

  it('no thinking while a tool loop is open (OpenAI clients cannot send the signed thinking blocks back)', () => {
    const req = translate({
      reasoning_effort: 'high',
      tools: [weatherTool],
      messages: [
        user('Weather?'),
        { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'rain' },
      ],
    })
    expect(req).not.toHaveProperty('thinking')
  })
})

describe('samplingLimits', () => {
  const table: Array<[string, boolean, boolean]> = [
    // model, restricted, temperatureWithTopP
    ['claude-3-haiku-20240307', false, true],
    ['claude-3-5-sonnet-20241022', false, true],
    ['claude-3-7-sonnet-20250219', false, true],
    ['claude-sonnet-4-20250514', false, true],
    ['claude-opus-4-20250514', false, true],
    ['claude-opus-4-0', false, true],
    ['claude-opus-4-1', false, false],
    ['claude-opus-4-1-20250805', false, false],
    ['claude-sonnet-4-5-20250929', false, false],
    ['claude-haiku-4-5', false, false],
    ['claude-opus-4-5-20251101', false, false],
    ['claude-opus-4-6', false, false],
    ['claude-sonnet-4-6', false, false],
    ['claude-opus-4-7', true, false],
    ['claude-sonnet-5', true, false],
    ['claude-opus-4-60', true, false],
    ['some-future-model', true, false],
  ]

  it.each(table)('%s → restricted %s, temperature with top_p %s', (model, restricted, temperatureWithTopP) => {
    expect(samplingLimits(model)).toEqual({ restricted, temperatureWithTopP })
  })
})

describe('toAnthropicRequest: sampling parameters', () => {
  const cases: Array<[string, string, Record<string, unknown>, Pick<AnthropicRequest, 'temperature' | 'top_p'>]> = [
    ['both kept on a model that takes both', 'claude-sonnet-4-20250514', { temperature: 0.5, top_p: 0.9 }, { temperature: 0.5, top_p: 0.9 }],
    ['temperature above 1 clamped', 'claude-3-5-sonnet-20241022', { temperature: 1.7 }, { temperature: 1 }],
    ['temperature 0 kept', 'claude-sonnet-4-5-20250929', { temperature: 0 }, { temperature: 0 }],
    ['top_p alone kept', 'claude-sonnet-4-5-20250929', { top_p: 0.8 }, { top_p: 0.8 }],
    ['temperature wins over top_p where both are rejected', 'claude-sonnet-4-5-20250929', { temperature: 0.3, top_p: 0.8 }, { temperature: 0.3 }],
    ['restricted: temperature other than 1 dropped', 'claude-opus-4-7', { temperature: 0.5 }, {}],
    ['restricted: temperature 1 kept', 'claude-opus-4-7', { temperature: 1 }, { temperature: 1 }],
    ['restricted: temperature 2 clamps to 1 and is kept', 'claude-opus-4-7', { temperature: 2 }, { temperature: 1 }],
    ['restricted: top_p below 0.99 dropped', 'claude-opus-4-7', { top_p: 0.9 }, {}],
    ['restricted: top_p 0.995 kept', 'claude-opus-4-7', { top_p: 0.995 }, { top_p: 0.995 }],
    ['nothing sent when nothing asked', 'claude-3-5-sonnet-20241022', {}, {}],
  ]

  it.each(cases)('%s (%s)', (_, model, params, expected) => {
    const req = translate({ model, messages: [user('hi')], ...params })
    expect({ temperature: req.temperature, top_p: req.top_p }).toEqual({ temperature: undefined, top_p: undefined, ...expected })
  })
})

describe('toAnthropicRequest: client mistakes throw TranslationError', () => {
  const toolCall = (args: string) => ({
    role: 'assistant',
    tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: args } }],
  })
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['n = 2', { messages: [user('hi')], n: 2 }, 'n', /n > 1 is not supported/],
    [
      'image data URL with an unsupported media type',
      { messages: [user([{ type: 'image_url', image_url: { url: `data:image/bmp;base64,${PNG}` } }])] },
      'messages[0].content[0].image_url.url',
      /unsupported image type 'image\/bmp'/,
    ],
    [
      'image data URL that is not base64',
      { messages: [user([{ type: 'image_url', image_url: { url: 'data:image/png,rawbytes' } }])] },
      'messages[0].content[0].image_url.url',
      /base64 data URL/,
    ],
    [
      'image URL with another scheme',
      { messages: [user([{ type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }])] },
      'messages[0].content[0].image_url.url',
      /http\(s\) URL or a base64 data: URL/,
    ],
    [
      'file referenced by file_id',
      { messages: [user([{ type: 'file', file: { file_id: 'file-abc' } }])] },
      'messages[0].content[0].file',
      /file_id is not supported/,
    ],
    [
      'file without data',
      { messages: [user([{ type: 'file', file: { filename: 'a.pdf' } }])] },
      'messages[0].content[0].file',
      /file_data is required/,
    ],
    [
      'file that is not a PDF',
      { messages: [user([{ type: 'file', file: { file_data: 'data:text/plain;base64,aGk=' } }])] },
      'messages[0].content[0].file.file_data',
      /only PDF/,
    ],
    [
      'tool-call arguments that are not JSON',
      { messages: [user('hi'), toolCall('{"city": Oslo}')] },
      'messages[1].tool_calls[0].function.arguments',
      /messages\[1\]\.tool_calls\[0\]\.function\.arguments is not valid JSON/,
    ],
    [
      'tool-call arguments that are a JSON array',
      { messages: [user('hi'), toolCall('[1, 2]')] },
      'messages[1].tool_calls[0].function.arguments',
      /must be a JSON object/,
    ],
    ['only system messages', { messages: [{ role: 'system', content: 'You are terse.' }] }, 'messages', /at least one non-empty/],
  ]

  it.each(cases)('%s', (_, body, param, message) => {
    const err = translationError(() => translate(body))
    expect(err.param).toBe(param)
    expect(err.message).toMatch(message)
  })

  it('n = 1 is fine', () => {
    expect(translate({ messages: [user('hi')], n: 1 }).messages).toHaveLength(1)
  })
})
