import { randomUUID } from 'node:crypto'
import { toClickHouseTime } from '../warehouse/time.ts'

/**
 * One request, as it is kept: built once from the finished exchange, then projected by each sink (a
 * ClickHouse row, later a span and metric observations). Sinks never recompute what is here.
 */
export type Endpoint = 'chat.completions' | 'messages' | 'count_tokens' | 'models'

export interface ConversationContent {
  system_prompt: string
  /** the messages as the client sent them, JSON */
  messages_json: string
  /** the last user turn's text */
  prompt: string
  /** the assistant's text (assembled from the stream when streaming) */
  completion: string
  /** JSON array of the tool calls in the answer: [{id, name, input}] */
  tool_calls: string
  /** JSON array of the tool results in the request: [{tool_use_id, content, is_error?}] */
  tool_results: string
}

export interface RequestRecord {
  id: string
  request_at: Date
  response_at: Date
  duration_ms: number
  /** to the first content byte sent to the client; null when none was sent */
  ttft_ms: number | null
  token_id: string
  user_name: string
  account_id: string
  mode: 'api' | 'web'
  endpoint: Endpoint
  /** the model the client asked for */
  model: string
  /** the model that answered */
  response_model: string
  stream: boolean
  status_code: number
  success: boolean
  error_type: string
  error_message: string
  stop_reason: string
  /** all input tokens, cache reads and writes included (OpenAI's and OpenTelemetry's convention) */
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  cache_creation_tokens: number
  cache_read_tokens: number
  upstream_request_id: string
  /** attempts after the first (failover to other accounts) */
  retries: number
  client_ip: string
  user_agent: string
  /** the client's own conversation id: OpenAI `user`, Anthropic `metadata.user_id` or X-Conversation-Id */
  conversation_id: string
  /** W3C trace context of the request's span ('' when tracing is off and the client sent none) */
  trace_id: string
  span_id: string
  /** the sampling parameters the client asked for (the span reports them; they are not stored) */
  request_params: RequestParams
  /** present only for tokens that opted in, with conversations enabled, after redaction */
  content: ConversationContent | null
}

export interface RequestParams {
  max_tokens?: number
  temperature?: number
  top_p?: number
  top_k?: number
  stop_sequences?: string[]
}

/** The request_logs row of a record (JSONEachRow). */
export function requestLogRow(r: RequestRecord) {
  return {
    id: r.id,
    request_at: toClickHouseTime(r.request_at),
    response_at: toClickHouseTime(r.response_at),
    duration_ms: r.duration_ms,
    ttft_ms: r.ttft_ms,
    token_id: r.token_id,
    user_name: r.user_name,
    account_id: r.account_id,
    mode: r.mode,
    endpoint: r.endpoint,
    model: r.model,
    response_model: r.response_model,
    stream: r.stream,
    status_code: r.status_code,
    success: r.success,
    error_type: r.error_type,
    error_message: r.error_message,
    stop_reason: r.stop_reason,
    prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens,
    total_tokens: r.total_tokens,
    cache_creation_tokens: r.cache_creation_tokens,
    cache_read_tokens: r.cache_read_tokens,
    upstream_request_id: r.upstream_request_id,
    retries: r.retries,
    client_ip: r.client_ip,
    user_agent: r.user_agent,
    conversation_id: r.conversation_id,
    has_content: r.content !== null,
    trace_id: r.trace_id,
    span_id: r.span_id,
  }
}

export type RequestLogRow = ReturnType<typeof requestLogRow>

/** The conversation_contents row of a record, when it carries content. */
export function conversationRow(r: RequestRecord) {
  if (!r.content) return null
  return {
    id: randomUUID(),
    request_log_id: r.id,
    token_id: r.token_id,
    created_at: toClickHouseTime(r.request_at),
    model: r.model,
    conversation_id: r.conversation_id,
    ...r.content,
  }
}

export type ConversationRow = NonNullable<ReturnType<typeof conversationRow>>
