/**
 * Everything ccproxy's spans take from the OpenTelemetry GenAI semantic conventions: the attribute names
 * and the shapes of the opt-in content values. The conventions are still in Development status and keep
 * moving (gen_ai.system became gen_ai.provider.name in v1.37, the whole set left the core repository in
 * v1.42), so a move is a change to this module and to nothing else.
 */

/** The conventions these names follow (the last in-core GenAI text); the tracer's scope carries it. */
export const SEMCONV_VERSION = '1.41.0'
export const SCHEMA_URL = `https://opentelemetry.io/schemas/${SEMCONV_VERSION}`

export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  conversationId: 'gen_ai.conversation.id',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestTopP: 'gen_ai.request.top_p',
  requestTopK: 'gen_ai.request.top_k',
  requestStopSequences: 'gen_ai.request.stop_sequences',
  requestStream: 'gen_ai.request.stream',
  responseId: 'gen_ai.response.id',
  responseModel: 'gen_ai.response.model',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  usageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  systemInstructions: 'gen_ai.system_instructions',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  serviceName: 'service.name',
  // ccproxy's own: who called, through which account, and the request_logs row that holds the rest
  tokenId: 'ccproxy.token.id',
  accountId: 'ccproxy.account.id',
  mode: 'ccproxy.mode',
  requestLogId: 'ccproxy.request_log.id',
} as const

/** Anthropic's value for gen_ai.provider.name (the conventions' docs/gen-ai/anthropic.md). */
export const PROVIDER = 'anthropic'

/** gen_ai.operation.name per endpoint; the conventions have no value for the last two, so they are ours. */
export const OPERATION = {
  messages: 'chat',
  'chat.completions': 'chat',
  count_tokens: 'count_tokens',
  models: 'list_models',
} as const

// The opt-in content values: JSON strings following the conventions' published message schemas
// (gen-ai-input-messages.json, gen-ai-output-messages.json, gen-ai-system-instructions.json).

type Part =
  | { type: 'text'; content: string }
  | { type: 'reasoning'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id: string; response: unknown }
  | { type: string }
interface ChatMessage {
  role: string
  parts: Part[]
}

type Block = { type?: unknown; text?: unknown; thinking?: unknown; id?: unknown; name?: unknown; input?: unknown; tool_use_id?: unknown; content?: unknown }
type ClientMessage = { role?: unknown; content?: unknown; tool_calls?: unknown; tool_call_id?: unknown }

const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** One content block in either dialect: Anthropic's (text, thinking, tool_use, tool_result) or OpenAI's content parts. */
function partOf(block: Block): Part {
  switch (block.type) {
    case 'text':
      return { type: 'text', content: str(block.text) }
    case 'thinking':
      return { type: 'reasoning', content: str(block.thinking) }
    case 'tool_use':
      return { type: 'tool_call', id: str(block.id), name: str(block.name), arguments: block.input ?? {} }
    case 'tool_result':
      return { type: 'tool_call_response', id: str(block.tool_use_id), response: block.content ?? '' }
    default:
      // images, documents and the like: the kind is kept, the (often base64) payload is not
      return { type: str(block.type) || 'unknown' }
  }
}

function partsOf(content: unknown): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', content }]
  return Array.isArray(content) ? content.filter((b) => typeof b === 'object' && b !== null).map(partOf) : []
}

/** The messages as the client sent them (Anthropic or OpenAI dialect) in the conventions' input shape. */
export function inputMessages(messagesJson: string): ChatMessage[] {
  let messages: unknown
  try {
    messages = JSON.parse(messagesJson)
  } catch {
    return []
  }
  if (!Array.isArray(messages)) return []
  return (messages as ClientMessage[]).map((m) => {
    const role = str(m?.role)
    // OpenAI: a tool's answer is a message of its own, the assistant's calls sit beside its content
    if (role === 'tool') return { role, parts: [{ type: 'tool_call_response', id: str(m.tool_call_id), response: m.content ?? '' }] }
    const calls = Array.isArray(m?.tool_calls) ? (m.tool_calls as Array<{ id?: unknown; function?: { name?: unknown; arguments?: unknown } }>) : []
    return {
      role,
      parts: [
        ...partsOf(m?.content),
        ...calls.map((c) => ({ type: 'tool_call', id: str(c?.id), name: str(c?.function?.name), arguments: parsedOr(c?.function?.arguments) })),
      ],
    }
  })
}

export function systemInstructions(systemPrompt: string): Part[] {
  return systemPrompt === '' ? [] : [{ type: 'text', content: systemPrompt }]
}

/** The answer (text and tool calls, as the record keeps them) in the conventions' output shape; [] when there is none. */
export function outputMessages(completion: string, toolCallsJson: string, finishReason: string): Array<ChatMessage & { finish_reason: string }> {
  const calls = parsedOr(toolCallsJson)
  const parts: Part[] = [
    ...(completion === '' ? [] : [{ type: 'text' as const, content: completion }]),
    ...(Array.isArray(calls) ? calls : []).map((c: Block) => ({ type: 'tool_call', id: str(c?.id), name: str(c?.name), arguments: c?.input ?? {} })),
  ]
  return parts.length ? [{ role: 'assistant', parts, finish_reason: finishReason }] : []
}

function parsedOr(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? {}
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}

const LONG_STRING = 4096

/**
 * JSON of a message list within `maxChars`, still valid JSON (the conventions allow truncation that keeps
 * the structure): long strings are cut first, then the oldest messages go, the latest being the most telling.
 */
export function boundedJson(messages: unknown[], maxChars: number): string {
  let json = JSON.stringify(messages)
  if (json.length <= maxChars) return json
  const cut = JSON.parse(json, (_key, value) => (typeof value === 'string' && value.length > LONG_STRING ? `${value.slice(0, LONG_STRING)}…[truncated]` : value)) as unknown[]
  for (let from = 0; from < cut.length; from++) {
    json = JSON.stringify(cut.slice(from))
    if (json.length <= maxChars) return json
  }
  return '[]'
}
