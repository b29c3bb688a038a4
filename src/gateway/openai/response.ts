// Anthropic Messages response → OpenAI Chat Completions response and errors (reference/wire-formats.md §6, §7.1, §7.2, §7.4).
import type {
  AnthropicMessage,
  AnthropicUsage,
  ChatCompletion,
  ChatCompletionMessage,
  ChatCompletionToolCall,
  CompletionUsage,
  FinishReason,
  OpenAIErrorBody,
} from './types.ts'

// §7.1, "Recommended" column.
const FINISH_REASONS: ReadonlyMap<string, FinishReason> = new Map([
  ['end_turn', 'stop'],
  ['stop_sequence', 'stop'],
  ['pause_turn', 'stop'],
  ['max_tokens', 'length'],
  ['model_context_window_exceeded', 'length'],
  ['compaction', 'length'],
  ['tool_use', 'tool_calls'],
  ['refusal', 'content_filter'],
])

/** null while the message is unfinished; stop reasons newer than this table read as 'stop'. */
export function finishReason(stopReason: string | null | undefined): FinishReason | null {
  if (stopReason == null) return null
  return FINISH_REASONS.get(stopReason) ?? 'stop'
}

/** §7.2: OpenAI counts cached tokens inside prompt_tokens; Anthropic's input_tokens is the uncached part only. */
export function toOpenAIUsage(u: AnthropicUsage): CompletionUsage {
  const uncached = u.input_tokens ?? 0
  const cacheWrite = u.cache_creation_input_tokens ?? 0
  const cacheRead = u.cache_read_input_tokens ?? 0
  const completion = u.output_tokens ?? 0
  const prompt = uncached + cacheWrite + cacheRead
  const usage: CompletionUsage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cacheRead, cache_write_tokens: cacheWrite },
  }
  const thinking = u.output_tokens_details?.thinking_tokens
  if (thinking != null) usage.completion_tokens_details = { reasoning_tokens: thinking }
  return usage
}

/** `ctx.model` is the fallback; the completion names the model Anthropic says answered. */
export function toChatCompletion(
  msg: AnthropicMessage,
  ctx: { id: string; created: number; model: string },
): ChatCompletion {
  const text: string[] = []
  const thinking: string[] = []
  const toolCalls: ChatCompletionToolCall[] = []
  for (const block of msg.content) {
    switch (block.type) {
      case 'text':
        text.push(block.text)
        break
      case 'thinking':
        thinking.push(block.thinking)
        break
      case 'tool_use':
        toolCalls.push({
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
        })
        break
    }
  }

  const message: ChatCompletionMessage = {
    role: 'assistant',
    content: text.length > 0 ? text.join('') : null,
    refusal: msg.stop_reason === 'refusal' ? (msg.stop_details?.explanation ?? null) : null,
  }
  if (toolCalls.length > 0) message.tool_calls = toolCalls
  if (thinking.length > 0) message.reasoning_content = thinking.join('')

  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: msg.model || ctx.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(msg.stop_reason) ?? 'stop' }],
    usage: toOpenAIUsage(msg.usage),
  }
}

// Anthropic's error types read as OpenAI error types unchanged (§7.4); these fill in when the body has none.
const STATUS_DEFAULTS: ReadonlyMap<number, { type: string; message: string }> = new Map([
  [400, { type: 'invalid_request_error', message: 'The upstream rejected the request as invalid.' }],
  [401, { type: 'authentication_error', message: 'The upstream rejected the credentials.' }],
  [402, { type: 'billing_error', message: 'The upstream account has a billing problem.' }],
  [403, { type: 'permission_error', message: 'The upstream account is not permitted to do this.' }],
  [404, { type: 'not_found_error', message: 'The upstream did not find the requested resource.' }],
  [409, { type: 'conflict_error', message: 'The upstream reported a conflict.' }],
  [413, { type: 'request_too_large', message: 'The request is too large for the upstream.' }],
  [429, { type: 'rate_limit_error', message: 'The upstream rate limit was reached.' }],
  [500, { type: 'api_error', message: 'The upstream had an internal error.' }],
  [504, { type: 'timeout_error', message: 'The upstream timed out.' }],
  [529, { type: 'overloaded_error', message: 'The upstream is overloaded.' }],
])

function statusDefault(status: number): { type: string; message: string } {
  return (
    STATUS_DEFAULTS.get(status) ??
    (status >= 500
      ? { type: 'api_error', message: `The upstream failed with status ${status}.` }
      : { type: 'invalid_request_error', message: `The upstream answered with status ${status}.` })
  )
}

/**
 * An upstream error response in OpenAI's shape. The body may be parsed JSON, raw text or bytes: a 413 comes from
 * Cloudflare before the API and is not Anthropic's JSON. The status is kept (529 stays 529).
 */
export function toOpenAIError(status: number, upstreamBody: unknown): { status: number; body: OpenAIErrorBody } {
  const upstream = anthropicError(upstreamBody)
  const fallback = statusDefault(status)
  return {
    status,
    body: openAIError(upstream?.type || fallback.type, upstream?.message || fallback.message, upstream?.code ?? null),
  }
}

export function openAIError(type: string, message: string, code: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param: null, code } }
}

function anthropicError(body: unknown): { type?: string; message?: string; code?: string } | undefined {
  const parsed = typeof body === 'string' || body instanceof Uint8Array ? parseJson(body) : body
  const error = isRecord(parsed) ? parsed.error : undefined
  if (!isRecord(error)) return undefined
  const code = isRecord(error.details) ? error.details.error_code : undefined
  return {
    type: typeof error.type === 'string' ? error.type : undefined,
    message: typeof error.message === 'string' ? error.message : undefined,
    code: typeof code === 'string' ? code : undefined,
  }
}

function parseJson(text: string | Uint8Array): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text))
  } catch {
    return undefined
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
