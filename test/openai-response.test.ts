import { describe, expect, it } from 'vitest'
import { finishReason, toChatCompletion, toOpenAIError, toOpenAIUsage } from '../src/gateway/openai/index.ts'
import type { AnthropicMessage, AnthropicUsage, CompletionUsage } from '../src/gateway/openai/index.ts'

const ctx = { id: 'chatcmpl-demo0001', created: 1764300000, model: 'claude-sonnet-4-5' }

function message(overrides: Partial<AnthropicMessage>): AnthropicMessage {
  return {
    id: 'msg_01Demo',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-5-20250929',
    content: [],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 5 },
    ...overrides,
  }
}

describe('finishReason (§7.1 recommended column)', () => {
  const table: Array<[string | null | undefined, string | null]> = [
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['pause_turn', 'stop'],
    ['refusal', 'content_filter'],
    ['model_context_window_exceeded', 'length'],
    ['compaction', 'length'],
    ['some_future_reason', 'stop'],
    ['constructor', 'stop'],
    [null, null],
    [undefined, null],
  ]

  it.each(table)('%s → %s', (stopReason, expected) => {
    expect(finishReason(stopReason)).toBe(expected)
  })
})

describe('toOpenAIUsage (§7.2)', () => {
  const table: Array<[string, AnthropicUsage, CompletionUsage]> = [
    [
      'vector 7: cache read counts into prompt_tokens',
      { input_tokens: 412, cache_creation_input_tokens: 0, cache_read_input_tokens: 2048, output_tokens: 57 },
      {
        prompt_tokens: 2460,
        completion_tokens: 57,
        total_tokens: 2517,
        prompt_tokens_details: { cached_tokens: 2048, cache_write_tokens: 0 },
      },
    ],
    [
      'cache writes count into prompt_tokens too',
      { input_tokens: 20, cache_creation_input_tokens: 1500, cache_read_input_tokens: 0, output_tokens: 3 },
      {
        prompt_tokens: 1520,
        completion_tokens: 3,
        total_tokens: 1523,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 1500 },
      },
    ],
    [
      'null and absent counters read as 0',
      { input_tokens: 18, cache_creation_input_tokens: null, output_tokens: 9 },
      {
        prompt_tokens: 18,
        completion_tokens: 9,
        total_tokens: 27,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      },
    ],
    [
      'thinking tokens → reasoning_tokens',
      { input_tokens: 30, output_tokens: 700, output_tokens_details: { thinking_tokens: 650 } },
      {
        prompt_tokens: 30,
        completion_tokens: 700,
        total_tokens: 730,
        prompt_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 650 },
      },
    ],
  ]

  it.each(table)('%s', (_, usage, expected) => {
    expect(toOpenAIUsage(usage)).toEqual(expected)
  })
})

describe('toChatCompletion (§6.1, §7.4)', () => {
  it('translates the §2 example (text + tool_use, cache read) to the §6.1 shape', () => {
    const msg: AnthropicMessage = {
      id: 'msg_01DemoNonStream0001',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        { type: 'text', text: 'Let me look that up.' },
        { type: 'tool_use', id: 'toolu_01DemoToolUse0001', name: 'get_weather', input: { city: 'Oslo' } },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 412,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 2048,
        output_tokens: 57,
      },
    }
    expect(toChatCompletion(msg, ctx)).toEqual({
      id: 'chatcmpl-demo0001',
      object: 'chat.completion',
      created: 1764300000,
      model: 'claude-sonnet-4-5-20250929',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Let me look that up.',
            refusal: null,
            tool_calls: [
              { id: 'toolu_01DemoToolUse0001', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: 2460,
        completion_tokens: 57,
        total_tokens: 2517,
        prompt_tokens_details: { cached_tokens: 2048, cache_write_tokens: 0 },
      },
    })
  })

  const cases: Array<[string, Partial<AnthropicMessage>, Record<string, unknown>, string]> = [
    [
      'text blocks are concatenated',
      { content: [{ type: 'text', text: 'Oslo is' }, { type: 'text', text: ' the capital.' }] },
      { role: 'assistant', content: 'Oslo is the capital.', refusal: null },
      'stop',
    ],
    ['no text → content null', { content: [], stop_reason: 'max_tokens' }, { role: 'assistant', content: null, refusal: null }, 'length'],
    [
      'thinking → reasoning_content, tool calls without text',
      {
        content: [
          { type: 'thinking', thinking: 'The user wants weather.', signature: 'sig' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } },
          { type: 'tool_use', id: 'toolu_2', name: 'now', input: {} },
        ],
        stop_reason: 'tool_use',
      },
      {
        role: 'assistant',
        content: null,
        refusal: null,
        reasoning_content: 'The user wants weather.',
        tool_calls: [
          { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
          { id: 'toolu_2', type: 'function', function: { name: 'now', arguments: '{}' } },
        ],
      },
      'tool_calls',
    ],
    [
      'refusal → content_filter with the explanation',
      {
        content: [{ type: 'text', text: 'I' }],
        stop_reason: 'refusal',
        stop_details: { type: 'refusal', category: 'cyber', explanation: 'Declined by policy.' },
      },
      { role: 'assistant', content: 'I', refusal: 'Declined by policy.' },
      'content_filter',
    ],
    [
      'blocks of other types are skipped',
      {
        content: [
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: {} },
          { type: 'redacted_thinking', data: 'opaque' },
          { type: 'text', text: 'Found it.' },
        ] as unknown as AnthropicMessage['content'],
        stop_reason: 'pause_turn',
      },
      { role: 'assistant', content: 'Found it.', refusal: null },
      'stop',
    ],
  ]

  it.each(cases)('%s', (_, overrides, expectedMessage, expectedFinish) => {
    const [choice] = toChatCompletion(message(overrides), ctx).choices
    expect(choice.message).toEqual(expectedMessage)
    expect(choice.finish_reason).toBe(expectedFinish)
  })

  it('names the model Anthropic answered with, falling back to the requested one', () => {
    expect(toChatCompletion(message({ model: 'claude-sonnet-4-5-20250929' }), ctx).model).toBe('claude-sonnet-4-5-20250929')
    expect(toChatCompletion(message({ model: '' }), ctx).model).toBe('claude-sonnet-4-5')
  })
})

describe('toOpenAIError (§6.3, §7.4)', () => {
  const table: Array<[string, number, unknown, number, { message: string; type: string; code: string | null }]> = [
    [
      'vector 10: 529 overloaded stays 529',
      529,
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_011Demo' },
      529,
      { message: 'Overloaded', type: 'overloaded_error', code: null },
    ],
    [
      '429 rate limit',
      429,
      { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } },
      429,
      { message: 'Number of request tokens has exceeded your per-minute rate limit', type: 'rate_limit_error', code: null },
    ],
    [
      '429 spend limit carries details.error_code as code',
      429,
      { type: 'error', error: { type: 'rate_limit_error', message: 'Spend limit reached', details: { error_code: 'enforced_spend_limit_reached' } } },
      429,
      { message: 'Spend limit reached', type: 'rate_limit_error', code: 'enforced_spend_limit_reached' },
    ],
    [
      '400 as JSON text',
      400,
      '{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}',
      400,
      { message: 'max_tokens: Field required', type: 'invalid_request_error', code: null },
    ],
    [
      '401 as bytes',
      401,
      Buffer.from('{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'),
      401,
      { message: 'invalid x-api-key', type: 'authentication_error', code: null },
    ],
    [
      '413 HTML from the edge',
      413,
      '<html><body>413 Request Entity Too Large</body></html>',
      413,
      { message: 'The request is too large for the upstream.', type: 'request_too_large', code: null },
    ],
    ['500 without a body', 500, undefined, 500, { message: 'The upstream had an internal error.', type: 'api_error', code: null }],
    ['503 with an empty object', 503, {}, 503, { message: 'The upstream failed with status 503.', type: 'api_error', code: null }],
    [
      '418 with an unknown shape',
      418,
      { detail: 'teapot' },
      418,
      { message: 'The upstream answered with status 418.', type: 'invalid_request_error', code: null },
    ],
    [
      'error object missing its message',
      404,
      { type: 'error', error: { type: 'not_found_error' } },
      404,
      { message: 'The upstream did not find the requested resource.', type: 'not_found_error', code: null },
    ],
  ]

  it.each(table)('%s', (_, status, body, expectedStatus, expected) => {
    expect(toOpenAIError(status, body)).toEqual({ status: expectedStatus, body: { error: { ...expected, param: null } } })
  })
})
