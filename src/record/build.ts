import type { Exchange } from './exchange.ts'
import type { Redactor } from './redaction.ts'
import type { ConversationContent, RequestRecord } from './request-record.ts'
import { boundedModel } from './model-name.ts'
import { boundedErrorType, boundedUserAgent, ownErrorMessage, pseudonym } from './privacy.ts'
import { cutText, cutUtf8, wellFormed } from './text.ts'

const MAX_ERROR_MESSAGE = 2000
/** conversations.max_bytes's default: far above a long Claude Code session, far below what a queue can hold many of */
export const DEFAULT_CONVERSATION_MAX_BYTES = 4 * 1024 * 1024

/**
 * The one place a finished exchange becomes a RequestRecord. What the client wrote is kept only for tokens
 * that opted in to conversation logging (with conversations enabled), and then only after redaction:
 * content, error messages (which can quote the request), identifiers and the user agent. For every other
 * token the record carries the gateway's own words, pseudonyms and known names (privacy.ts). Model names
 * are bounded for every token: they become labels and aggregate keys (model-name.ts).
 */
export function toRecord(e: Exchange, redactor: Redactor, conversationMaxBytes = DEFAULT_CONVERSATION_MAX_BYTES): RequestRecord {
  const optedIn = e.contentAllowed
  const errorType = boundedErrorType(e.errorType ?? (e.clientAborted ? 'client_disconnected' : ''))
  const errorMessage = cutText(e.errorMessage ?? (e.clientAborted ? 'the client disconnected before the response was complete' : ''), MAX_ERROR_MESSAGE)
  // Anthropic answers only models that exist: a 2xx from upstream, or a message naming its model, vouches for the name.
  const accepted = e.responseModel !== null || (e.attempts > 0 && e.statusCode >= 200 && e.statusCode < 300)
  const u = e.usage
  const prompt = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
  const durationMs = e.durationMs ?? 0
  return wellFormedRecord({
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
    model: boundedModel(e.requestedModel, accepted),
    response_model: boundedModel(e.responseModel, true),
    stream: e.stream,
    status_code: e.statusCode,
    success: e.success && !e.clientAborted,
    error_type: errorType,
    // Error texts can quote what was sent (a tool argument, a model name, the upstream echoing the prompt).
    error_message: optedIn ? redactor.text(errorMessage) : ownErrorMessage(errorType, errorMessage),
    stop_reason: e.stopReason ?? '',
    prompt_tokens: prompt,
    completion_tokens: u.output_tokens,
    total_tokens: prompt + u.output_tokens,
    cache_creation_tokens: u.cache_creation_input_tokens,
    cache_read_tokens: u.cache_read_input_tokens,
    upstream_request_id: e.upstreamRequestId ?? '',
    retries: Math.max(0, e.attempts - 1),
    client_ip: e.clientIp,
    user_agent: optedIn ? redactor.text(e.userAgent) : boundedUserAgent(e.userAgent),
    conversation_id: optedIn ? redactor.text(e.conversationId) : pseudonym(redactor.pseudonymKey, e.tokenId ?? '', e.conversationId),
    trace_id: e.traceId,
    span_id: e.spanId,
    // stop sequences are text the client wrote; the numbers are not
    request_params: optedIn || !e.requestParams.stop_sequences ? e.requestParams : withoutStops(e.requestParams),
    content: e.content ? boundedContent(redactor.content(e.content.content()), conversationMaxBytes) : null,
  })
}

/**
 * Every string of a row well-formed: one lone surrogate (a client's `\ud800`, an emoji cut in half) makes
 * ClickHouse refuse the insert it is in.
 */
function wellFormedRecord(r: RequestRecord): RequestRecord {
  const strings = r as unknown as Record<string, unknown>
  for (const [key, value] of Object.entries(strings)) if (typeof value === 'string') strings[key] = wellFormed(value)
  if (r.content) r.content = wellFormedFields(r.content)
  if (r.request_params.stop_sequences) r.request_params = { ...r.request_params, stop_sequences: r.request_params.stop_sequences.map(wellFormed) }
  return r
}

function wellFormedFields<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? wellFormed(v) : v])) as T
}

/** Appended to a field that was cut to fit conversations.max_bytes (the text says how much there was). */
export const TRUNCATION_MARKER = '\n[ccproxy: truncated to fit conversations.max_bytes]'

/**
 * A conversation larger than the cap is kept, cut: the small fields whole, the large ones sharing what is
 * left (largest cut most), each cut field ending in TRUNCATION_MARKER. Bytes are UTF-8 bytes.
 */
export function boundedContent(c: ConversationContent, maxBytes: number): ConversationContent {
  const sizes = Object.entries(c).map(([key, text]) => ({ key, bytes: Buffer.byteLength(text as string, 'utf8') }))
  if (sizes.reduce((sum, f) => sum + f.bytes, 0) <= maxBytes) return c
  const out = { ...c } as Record<string, string>
  const marker = Buffer.byteLength(TRUNCATION_MARKER, 'utf8')
  let left = maxBytes
  sizes.sort((a, b) => a.bytes - b.bytes)
  sizes.forEach(({ key, bytes }, i) => {
    const share = Math.floor(left / (sizes.length - i))
    if (bytes > share) out[key] = cutUtf8(out[key]!, Math.max(0, share - marker)) + TRUNCATION_MARKER
    left -= Math.min(bytes, share)
  })
  return out as unknown as ConversationContent
}

function withoutStops({ stop_sequences: _, ...numbers }: RequestRecord['request_params']): RequestRecord['request_params'] {
  return numbers
}
