import type { Exchange } from './exchange.ts'
import type { Redactor } from './redaction.ts'
import type { RequestRecord } from './request-record.ts'

const MAX_ERROR_MESSAGE = 2000

/**
 * The one place a finished exchange becomes a RequestRecord. Content is included only when the exchange
 * captured it (the token opted in and conversations are enabled), and only after redaction.
 */
export function toRecord(e: Exchange, redactor: Redactor): RequestRecord {
  const u = e.usage
  const prompt = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
  const durationMs = e.durationMs ?? 0
  return {
    id: e.id,
    request_at: e.requestAt,
    response_at: new Date(e.requestAt.getTime() + durationMs),
    duration_ms: durationMs,
    ttft_ms: e.ttftMs,
    token_id: e.tokenId ?? '',
    user_name: e.userName ?? '',
    account_id: e.accountId ?? '',
    mode: e.mode,
    endpoint: e.endpoint,
    model: e.requestedModel ?? '',
    response_model: e.responseModel ?? '',
    stream: e.stream,
    status_code: e.statusCode,
    success: e.success && !e.clientAborted,
    error_type: e.errorType ?? (e.clientAborted ? 'client_disconnected' : ''),
    // Error texts can quote what was sent; they go through the same masking as content.
    error_message: redactor.text((e.errorMessage ?? (e.clientAborted ? 'the client disconnected before the response was complete' : '')).slice(0, MAX_ERROR_MESSAGE)),
    stop_reason: e.stopReason ?? '',
    prompt_tokens: prompt,
    completion_tokens: u.output_tokens,
    total_tokens: prompt + u.output_tokens,
    cache_creation_tokens: u.cache_creation_input_tokens,
    cache_read_tokens: u.cache_read_input_tokens,
    upstream_request_id: e.upstreamRequestId ?? '',
    retries: Math.max(0, e.attempts - 1),
    client_ip: e.clientIp,
    user_agent: e.userAgent,
    conversation_id: e.conversationId,
    trace_id: e.traceId,
    span_id: e.spanId,
    request_params: e.requestParams,
    content: e.content ? redactor.content(e.content.content()) : null,
  }
}
