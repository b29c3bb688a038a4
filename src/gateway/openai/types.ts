// The wire shapes the OpenAI ⇄ Anthropic translation reads and writes (reference/wire-formats.md §1–§6).
// Only the fields the translation touches are typed; real payloads carry more, and those are left alone.
// The OpenAI request type is inferred from its zod schema in request.ts.

// ── Anthropic Messages API: request ─────────────────────────────────────────────────────────────────────────

export interface CacheControl {
  type: 'ephemeral'
  ttl?: '5m' | '1h'
}

export interface AnthropicTextBlock {
  type: 'text'
  text: string
  cache_control?: CacheControl
}

export type ImageMediaType = 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp'

export interface AnthropicImageBlock {
  type: 'image'
  source: { type: 'base64'; media_type: ImageMediaType; data: string } | { type: 'url'; url: string }
}

export interface AnthropicDocumentBlock {
  type: 'document'
  source: { type: 'base64'; media_type: 'application/pdf'; data: string }
  title?: string
}

export interface AnthropicToolUseBlock {
  type: 'tool_use'
  id: string
  name: string
  input: Record<string, unknown>
}

export interface AnthropicToolResultBlock {
  type: 'tool_result'
  tool_use_id: string
  content?: string | AnthropicTextBlock[]
}

export type AnthropicContentBlock =
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicDocumentBlock
  | AnthropicToolUseBlock
  | AnthropicToolResultBlock

export interface AnthropicMessageParam {
  role: 'user' | 'assistant'
  content: AnthropicContentBlock[]
}

export interface AnthropicTool {
  name: string
  description?: string
  input_schema: Record<string, unknown>
}

export type AnthropicToolChoice =
  | { type: 'auto'; disable_parallel_tool_use?: boolean }
  | { type: 'any'; disable_parallel_tool_use?: boolean }
  | { type: 'tool'; name: string; disable_parallel_tool_use?: boolean }
  | { type: 'none' }

export interface AnthropicRequest {
  model: string
  max_tokens: number
  messages: AnthropicMessageParam[]
  system?: AnthropicTextBlock[]
  stop_sequences?: string[]
  temperature?: number
  top_p?: number
  stream?: boolean
  tools?: AnthropicTool[]
  tool_choice?: AnthropicToolChoice
  metadata?: { user_id: string }
  thinking?: { type: 'enabled'; budget_tokens: number }
  output_config?: { format: { type: 'json_schema'; schema: Record<string, unknown> } }
}

// ── Anthropic Messages API: response and stream ─────────────────────────────────────────────────────────────

/** Counters may be null or absent (older recordings, message_delta usage that carries only output_tokens). */
export interface AnthropicUsage {
  input_tokens?: number | null
  output_tokens?: number | null
  cache_creation_input_tokens?: number | null
  cache_read_input_tokens?: number | null
  output_tokens_details?: { thinking_tokens?: number | null } | null
}

/** Response blocks the translation maps; other types (server tools, redacted thinking) occur and are skipped. */
export type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }

export interface AnthropicMessage {
  id: string
  type: 'message'
  role: 'assistant'
  model: string
  content: AnthropicResponseBlock[]
  stop_reason: string | null
  stop_sequence?: string | null
  stop_details?: { type: string; category?: string | null; explanation?: string | null } | null
  usage: AnthropicUsage
}

export interface AnthropicErrorDetail {
  type: string
  message: string
}

// ── OpenAI Chat Completions: response, chunk, error ─────────────────────────────────────────────────────────

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter'

export interface CompletionUsage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  prompt_tokens_details: { cached_tokens: number; cache_write_tokens: number }
  completion_tokens_details?: { reasoning_tokens: number }
}

export interface ChatCompletionToolCall {
  id: string
  type: 'function'
  function: { name: string; arguments: string }
}

export interface ChatCompletionMessage {
  role: 'assistant'
  content: string | null
  refusal: string | null
  tool_calls?: ChatCompletionToolCall[]
  /** Non-standard (the LiteLLM / DeepSeek convention): the model's thinking text. */
  reasoning_content?: string
}

export interface ChatCompletion {
  id: string
  object: 'chat.completion'
  created: number
  model: string
  choices: [{ index: 0; message: ChatCompletionMessage; logprobs: null; finish_reason: FinishReason }]
  usage: CompletionUsage
}

export interface ToolCallDelta {
  index: number
  id?: string
  type?: 'function'
  function: { name?: string; arguments: string }
}

export interface ChunkDelta {
  role?: 'assistant'
  content?: string
  /** Non-standard, as on ChatCompletionMessage. */
  reasoning_content?: string
  tool_calls?: ToolCallDelta[]
}

export interface ChatCompletionChunk {
  id: string
  object: 'chat.completion.chunk'
  created: number
  model: string
  choices: { index: 0; delta: ChunkDelta; logprobs: null; finish_reason: FinishReason | null }[]
  /** Present only when the client asked for stream_options.include_usage: null on every chunk but the last. */
  usage?: CompletionUsage | null
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null }
}
