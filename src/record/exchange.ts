import { randomUUID } from 'node:crypto'
import type { Endpoint, RequestParams } from './request-record.ts'
import { ContentCapture, type RequestSide } from './content.ts'

/**
 * What one proxied request measured while it flowed: who, what, when, how much, how it ended. The
 * recording pipeline turns a finished Exchange into the RequestRecord; the request path only fills it in.
 */
export type { Endpoint }

export interface Usage {
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens: number
  cache_read_input_tokens: number
}

export const emptyUsage = (): Usage => ({ input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 })

/**
 * Anthropic's usage counters are cumulative running totals: a later report replaces an earlier one field by
 * field, and a field a report leaves out or nulls (older streams omit input counts in message_delta) keeps
 * its value.
 */
export function mergeUsage<T extends object>(into: T, report: object | null | undefined): T {
  for (const [key, value] of Object.entries(report ?? {})) {
    if (value != null) (into as Record<string, unknown>)[key] = value
  }
  return into
}

/** The sampling parameters of an Anthropic request body (what the model was asked to do). */
export function requestParams(body: Record<string, unknown>): RequestParams {
  const out: RequestParams = {}
  for (const key of ['max_tokens', 'temperature', 'top_p', 'top_k'] as const) {
    if (typeof body[key] === 'number') out[key] = body[key] as number
  }
  if (Array.isArray(body.stop_sequences)) out.stop_sequences = body.stop_sequences.filter((s): s is string => typeof s === 'string')
  return out
}

/** W3C traceparent, version 00: trace id and parent id must not be all zeros. */
const TRACEPARENT = /^00-(?!0{32})([0-9a-f]{32})-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/

export class Exchange {
  readonly id = randomUUID()
  readonly requestAt = new Date()
  readonly #start = performance.now()
  tokenId: string | null = null
  userName: string | null = null
  mode: 'api' | 'web' = 'api'
  requestedModel: string | null = null
  stream = false
  accountId: string | null = null
  attempts = 0
  upstreamRequestId: string | null = null
  statusCode = 0
  errorType: string | null = null
  errorMessage: string | null = null
  responseModel: string | null = null
  responseId: string | null = null
  stopReason: string | null = null
  readonly usage: Usage = emptyUsage()
  /** ms from the start to the first content byte sent to the client */
  ttftMs: number | null = null
  durationMs: number | null = null
  clientAborted = false
  clientIp = ''
  userAgent = ''
  /** the client's own conversation id, when it sent one */
  conversationId = ''
  /** the token opted in to conversation logging and conversations are enabled */
  contentAllowed = false
  /** the conversation being captured, when allowed */
  content: ContentCapture | null = null
  /** the request's W3C trace context: the caller's trace until our span (when tracing is on) takes over */
  traceId = ''
  spanId = ''
  /** the caller's valid traceparent and its tracestate, as sent ('' when none) */
  traceParent = ''
  traceState = ''
  requestParams: RequestParams = {}

  constructor(readonly endpoint: Endpoint) {}

  /** Joins the caller's trace when it sent a valid W3C traceparent (an invalid one is ignored, as the spec asks). */
  joinTrace(traceparent: unknown, tracestate: unknown): void {
    const match = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent.trim()) : null
    if (!match) return
    this.traceParent = match[0]
    this.traceState = typeof tracestate === 'string' ? tracestate.trim() : ''
    this.traceId = match[1]!
  }

  /** Starts capturing the conversation, if this request may keep it (the request side is read only then). */
  captureContent(request: () => RequestSide): void {
    if (this.contentAllowed) this.content = new ContentCapture(request())
  }

  /** Marks the first content byte written to the client (only the first call counts). */
  firstByte(): void {
    this.ttftMs ??= Math.round(performance.now() - this.#start)
  }

  fail(status: number, type: string, message: string): void {
    this.statusCode = status
    this.errorType = type
    this.errorMessage = message
  }

  /** Reads the parts of an Anthropic message (a non-streamed body, or message_start's) the record needs. */
  observeMessage(message: { id?: unknown; model?: unknown; stop_reason?: unknown; usage?: object | null; content?: unknown } | null | undefined): void {
    if (!message) return
    if (typeof message.id === 'string') this.responseId = message.id
    if (typeof message.model === 'string') this.responseModel = message.model
    if (typeof message.stop_reason === 'string') this.stopReason = message.stop_reason
    mergeUsage(this.usage, message.usage)
    this.content?.observeMessage(message)
  }

  /** Reads one Anthropic stream event: message_start, message_delta and error carry what the record needs. */
  observeEvent(event: string, data: any): void {
    this.content?.observeEvent(event, data)
    if (event === 'message_start') this.observeMessage(data?.message)
    else if (event === 'message_delta') {
      if (typeof data?.delta?.stop_reason === 'string') this.stopReason = data.delta.stop_reason
      mergeUsage(this.usage, data?.usage)
    } else if (event === 'error') {
      this.errorType = data?.error?.type ?? 'api_error'
      this.errorMessage = data?.error?.message ?? 'stream error'
    }
  }

  finish(): void {
    this.durationMs ??= Math.round(performance.now() - this.#start)
  }

  get success(): boolean {
    return this.statusCode >= 200 && this.statusCode < 400 && this.errorType === null
  }
}
