import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  trace,
  type Attributes,
  type DiagLogger,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources'
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base'
import type { Config } from '../config.ts'
import type { Exchange } from '../record/exchange.ts'
import type { RequestRecord } from '../record/request-record.ts'
import { ATTR, OPERATION, PROVIDER, SCHEMA_URL, boundedJson, inputMessages, outputMessages, systemInstructions } from './genai-attributes.ts'
import { boundedModel } from '../record/model-name.ts'

/**
 * The OpenTelemetry sink: one CLIENT span per proxied request, following the GenAI semantic conventions.
 * begin() runs on the request path as the upstream call starts (synchronous: it starts the span and returns
 * the traceparent to send upstream); end() runs when the record is built, after the response, and is a
 * projection of the record. Spans leave through a BatchSpanProcessor (bounded queue, background export), so
 * a slow or dead collector costs a request nothing. Without an endpoint tracing is off: no exporter, no
 * timers, and the caller's traceparent still travels upstream unchanged.
 */

export interface TracingLog {
  warn(obj: object, msg: string): void
}

export interface TracingSettings {
  /** the OTLP/HTTP traces URL */
  url: string
  serviceName: string
  resourceAttributes: Record<string, string>
  sampleRatio: number
  captureContent: boolean
}

const EXPORT_TIMEOUT_MS = 5000
/** shutdown() flushes for at most this long: a dead collector must not hold up the gateway's exit */
const SHUTDOWN_GRACE_MS = 2000
/** one OTel warning per this interval reaches the log; the rest are the same complaint again */
const WARN_INTERVAL_MS = 60_000
/** per content attribute; beyond it the JSON is truncated (still valid JSON) */
const MAX_CONTENT_CHARS = 32 * 1024

const propagator = new W3CTraceContextPropagator()

/** Where spans go: config.yaml's otel.* first, the standard OTEL_* environment second; null = tracing off. */
export function tracingSettings(config: Config['otel'], env: NodeJS.ProcessEnv): TracingSettings | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null
  const url = tracesUrl(config.endpoint) || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || tracesUrl(env.OTEL_EXPORTER_OTLP_ENDPOINT)
  if (!url) return null
  const resourceAttributes = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES ?? '')
  return {
    url,
    serviceName: config.service_name || env.OTEL_SERVICE_NAME?.trim() || resourceAttributes[ATTR.serviceName] || 'ccproxy',
    resourceAttributes,
    sampleRatio: config.sample_ratio,
    captureContent: config.capture_content,
  }
}

/** An OTLP base endpoint (http://collector:4318) as its traces URL; a URL already naming /v1/traces is kept. */
function tracesUrl(endpoint: string | undefined): string {
  const base = endpoint?.trim().replace(/\/+$/, '') ?? ''
  if (!base) return ''
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`
}

/** OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs, comma-separated, values percent-encoded; bad pairs are skipped. */
function parseResourceAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    try {
      out[decodeURIComponent(pair.slice(0, eq).trim())] = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {
      // a malformed percent-escape: the spec says to ignore the pair
    }
  }
  return out
}

type Warn = (message: string, ...args: unknown[]) => void

/** Export failures repeat once per batch while a collector is away: one warning per interval is enough. */
function throttled(log: TracingLog | undefined): Warn {
  let last = -Infinity
  return (message, ...args) => {
    const now = Date.now()
    if (!log || now - last < WARN_INTERVAL_MS) return
    last = now
    log.warn({ detail: args.map(String) }, `OpenTelemetry: ${message} (further warnings are muted for ${WARN_INTERVAL_MS / 1000}s)`)
  }
}

/** OTel reports background export failures on its diag logger, which is process-wide: the latest gateway's log gets them. */
function diagLogger(warn: Warn): DiagLogger {
  const quiet = () => {}
  return { error: warn, warn, info: quiet, debug: quiet, verbose: quiet }
}

interface Pipeline {
  provider: BasicTracerProvider
  tracer: Tracer
  captureContent: boolean
  warn: Warn
}

export class Tracing {
  /** the span of each exchange between begin() and end(); an exchange that never ends takes its span with it */
  readonly #spans = new WeakMap<Exchange, Span>()

  private constructor(private readonly pipeline: Pipeline | null) {}

  /** Tracing off: the caller's trace context is passed through, nothing is recorded or exported. */
  static off(): Tracing {
    return new Tracing(null)
  }

  static create(config: Config['otel'], env: NodeJS.ProcessEnv, log?: TracingLog): Tracing {
    const settings = tracingSettings(config, env)
    if (!settings) return Tracing.off()
    const warn = throttled(log)
    if (log) diag.setLogger(diagLogger(warn), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true })
    const exporter = new OTLPTraceExporter({ url: settings.url, timeoutMillis: EXPORT_TIMEOUT_MS })
    const provider = new BasicTracerProvider({
      resource: defaultResource().merge(resourceFromAttributes({ ...settings.resourceAttributes, [ATTR.serviceName]: settings.serviceName })),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
      spanProcessors: [
        new BatchSpanProcessor(exporter, { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: EXPORT_TIMEOUT_MS }),
      ],
    })
    const tracer = provider.getTracer('ccproxy', undefined, { schemaUrl: SCHEMA_URL })
    return new Tracing({ provider, tracer, captureContent: settings.captureContent, warn })
  }

  /**
   * As the upstream call starts: starts the exchange's CLIENT span as a child of the caller's traceparent,
   * stores its ids on the exchange, and returns the trace headers for the upstream request.
   */
  begin(exchange: Exchange, upstream: URL): Record<string, string> {
    const carrier = { traceparent: exchange.traceParent, tracestate: exchange.traceState }
    if (!this.pipeline) return Object.fromEntries(Object.entries(carrier).filter(([, value]) => value !== ''))
    const operation = OPERATION[exchange.endpoint]
    // The client's name until the upstream has answered: a known model or `other` (record/model-name.ts);
    // end() names the span after the record's model.
    const model = boundedModel(exchange.requestedModel, false)
    // the attributes a sampler may look at are set at the start, as the conventions ask
    const attributes: Attributes = {
      [ATTR.operationName]: operation,
      [ATTR.providerName]: PROVIDER,
      [ATTR.serverAddress]: upstream.hostname,
      [ATTR.serverPort]: Number(upstream.port) || (upstream.protocol === 'https:' ? 443 : 80),
      ...(model ? { [ATTR.requestModel]: model } : {}),
    }
    const parent = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter)
    const span = this.pipeline.tracer.startSpan(
      model ? `${operation} ${model}` : operation,
      // from the request's arrival, so the span's duration is the record's
      { kind: SpanKind.CLIENT, startTime: exchange.requestAt, attributes },
      parent,
    )
    this.#spans.set(exchange, span)
    exchange.traceId = span.spanContext().traceId
    exchange.spanId = span.spanContext().spanId
    const headers: Record<string, string> = {}
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter)
    return headers
  }

  /** When the record is built: the span gets the record's outcome and ends when the response did. */
  end(exchange: Exchange, record: RequestRecord): void {
    const span = this.#spans.get(exchange)
    if (!span) return
    this.#spans.delete(exchange)
    if (span.isRecording()) {
      if (record.model) span.updateName(`${OPERATION[record.endpoint]} ${record.model}`)
      span.setAttributes(spanAttributes(record, exchange.responseId))
      if (this.pipeline?.captureContent && record.content) span.setAttributes(contentAttributes(record))
      // The message stays in the request_logs row (ccproxy.request_log.id): error texts can quote the conversation.
      if (!record.success) span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end(record.response_at)
  }

  /** Exports what is queued now; a failure is logged like a background one, never thrown. */
  async forceFlush(): Promise<void> {
    const pipeline = this.pipeline
    await pipeline?.provider.forceFlush().catch((err: unknown) => pipeline.warn(`export failed: ${(err as Error)?.message ?? err}`))
  }

  async shutdown(): Promise<void> {
    if (!this.pipeline) return
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, SHUTDOWN_GRACE_MS).unref()
    })
    await Promise.race([this.pipeline.provider.shutdown().catch(() => {}), grace])
    clearTimeout(timer)
  }
}

/** The record as span attributes: what was asked, what answered, how much, for whom, and how it ended. */
function spanAttributes(r: RequestRecord, responseId: string | null): Attributes {
  const p = r.request_params
  const chat = OPERATION[r.endpoint] === 'chat'
  return {
    [ATTR.requestStream]: r.stream,
    ...(r.model ? { [ATTR.requestModel]: r.model } : {}),
    ...(r.response_model ? { [ATTR.responseModel]: r.response_model } : {}),
    ...(responseId ? { [ATTR.responseId]: responseId } : {}),
    ...(r.stop_reason ? { [ATTR.responseFinishReasons]: [r.stop_reason] } : {}),
    ...(r.stream && r.ttft_ms !== null ? { [ATTR.responseTimeToFirstChunk]: r.ttft_ms / 1000 } : {}),
    ...(chat
      ? {
          [ATTR.usageInputTokens]: r.prompt_tokens,
          [ATTR.usageOutputTokens]: r.completion_tokens,
          [ATTR.usageCacheReadInputTokens]: r.cache_read_tokens,
          [ATTR.usageCacheCreationInputTokens]: r.cache_creation_tokens,
        }
      : {}),
    ...(p.max_tokens !== undefined ? { [ATTR.requestMaxTokens]: p.max_tokens } : {}),
    ...(p.temperature !== undefined ? { [ATTR.requestTemperature]: p.temperature } : {}),
    ...(p.top_p !== undefined ? { [ATTR.requestTopP]: p.top_p } : {}),
    ...(p.top_k !== undefined ? { [ATTR.requestTopK]: p.top_k } : {}),
    ...(p.stop_sequences?.length ? { [ATTR.requestStopSequences]: p.stop_sequences } : {}),
    ...(r.conversation_id ? { [ATTR.conversationId]: r.conversation_id } : {}),
    ...(r.success ? {} : { [ATTR.errorType]: r.error_type || (r.status_code >= 400 ? String(r.status_code) : '_OTHER') }),
    [ATTR.tokenId]: r.token_id,
    [ATTR.accountId]: r.account_id,
    [ATTR.mode]: r.mode,
    [ATTR.requestLogId]: r.id,
  }
}

/** The conventions' opt-in content attributes, from the record's (already redacted) content. */
function contentAttributes(r: RequestRecord): Attributes {
  const c = r.content!
  const system = systemInstructions(c.system_prompt)
  const output = outputMessages(c.completion, c.tool_calls, r.stop_reason)
  return {
    ...(system.length ? { [ATTR.systemInstructions]: boundedJson(system, MAX_CONTENT_CHARS) } : {}),
    [ATTR.inputMessages]: boundedJson(inputMessages(c.messages_json), MAX_CONTENT_CHARS),
    // a failed request has no answer to show
    ...(output.length ? { [ATTR.outputMessages]: boundedJson(output, MAX_CONTENT_CHARS) } : {}),
  }
}
