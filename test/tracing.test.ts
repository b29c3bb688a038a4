import { createServer } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import Anthropic from '@anthropic-ai/sdk'
import AnthropicLegacy from 'anthropic-sdk-0x'
import { startTestGateway, eventually, type TestGateway } from './support/gateway.ts'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts'
import { Tracing, tracingSettings } from '../src/sinks/tracing.ts'
import { boundedJson } from '../src/sinks/genai-attributes.ts'
import { Exchange } from '../src/record/exchange.ts'
import { toRecord } from '../src/record/build.ts'
import { Redactor } from '../src/record/redaction.ts'
import type { RequestRecord } from '../src/record/request-record.ts'

// One CLIENT span per proxied request, following the GenAI semantic conventions; the span is a projection
// of the RequestRecord, joins the caller's trace and is the parent the upstream request names.
const MODEL = 'claude-sonnet-4-6'
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_SPAN = '00f067aa0ba902b7'
const CONTENT_KEYS = ['gen_ai.system_instructions', 'gen_ai.input.messages', 'gen_ai.output.messages']

let receiver: OtlpReceiver
let t: TestGateway
let plain: { token: string; id: string }
let optedIn: { token: string; id: string }

const anthropic = (g: TestGateway, token: string) => new Anthropic({ baseURL: g.url, apiKey: token, maxRetries: 0 })
// the sampling parameters (temperature, top_p, top_k) belong to the classic API version the 0.x SDK speaks
const anthropicLegacy = (g: TestGateway, token: string) => new AnthropicLegacy({ baseURL: g.url, apiKey: token, maxRetries: 0 })
const openai = (g: TestGateway, token: string) => new OpenAI({ baseURL: `${g.url}/v1`, apiKey: token, maxRetries: 0 })

beforeAll(async () => {
  receiver = await startOtlpReceiver()
  t = await startTestGateway({ otel: { endpoint: receiver.url }, logging: { flush_interval: '100ms' } })
  plain = await t.mintToken({ name: 'plain' })
  optedIn = await t.mintToken({ name: 'opted-in' })
  await t.admin('PUT', `/api/token/${optedIn.id}/settings`, { enable_conversation_logging: true })
})
afterAll(async () => {
  await t.close()
  await receiver.close()
})
beforeEach(() => t.upstream.reset())

/** The latest record of a gateway and its span, once the span has reached the receiver. */
async function latest(g: TestGateway = t): Promise<{ record: RequestRecord; span: ReceivedSpan }> {
  const record = g.records.at(-1)!
  let span: ReceivedSpan | undefined
  await eventually(async () => {
    await g.gateway.tracing.forceFlush()
    span = receiver.spans.find((s) => s.attributes['ccproxy.request_log.id'] === record.id)
    expect(span).toBeDefined()
  })
  return { record, span: span! }
}

async function row(g: TestGateway, id: string): Promise<{ trace_id: string; span_id: string }> {
  let found: any
  await eventually(async () => {
    ;[found] = await g.rows('SELECT trace_id, span_id FROM request_logs WHERE id = {id:UUID}', { id })
    expect(found).toBeDefined()
  })
  return found
}

const upstreamHeader = (g: TestGateway, name: string) => g.upstream.requests.at(-1)!.headers[name]

describe('the inference span', () => {
  it('a non-streamed Anthropic request: name, kind, every attribute from the record, the row and the upstream traceparent', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'Paris.' }], usage: { input_tokens: 12, cache_read_input_tokens: 100, cache_creation_input_tokens: 7 } })
    const message = await anthropicLegacy(t, plain.token).messages.create({
      model: MODEL,
      max_tokens: 100,
      temperature: 0.5,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END'],
      metadata: { user_id: 'conv-7' },
      system: 'Be exact.',
      messages: [{ role: 'user', content: 'Capital of France?' }],
    })
    const { record, span } = await latest()
    expect(span.name).toBe(`chat ${MODEL}`)
    expect(span.kind).toBe(3)
    expect(span.parentSpanId).toBe('')
    expect(span.status.code).toBe(0)
    expect(span.startMs).toBe(record.request_at.getTime())
    expect(span.endMs).toBe(record.response_at.getTime())
    const upstream = new URL(t.upstream.url)
    expect(span.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': MODEL,
      'gen_ai.response.model': record.response_model,
      'gen_ai.response.id': message.id,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 119,
      'gen_ai.usage.output_tokens': record.completion_tokens,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'gen_ai.usage.cache_creation.input_tokens': 7,
      'gen_ai.request.max_tokens': 100,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.top_k': 40,
      'gen_ai.request.stream': false,
      // a token without conversation logging: the client's id as a keyed pseudonym (record/privacy.ts)
      'gen_ai.conversation.id': record.conversation_id,
      'server.address': upstream.hostname,
      'server.port': Number(upstream.port),
      'ccproxy.token.id': plain.id,
      'ccproxy.account.id': record.account_id,
      'ccproxy.mode': 'api',
      'ccproxy.request_log.id': record.id,
    })
    expect(record.conversation_id).toMatch(/^anon-/)
    expect(record.prompt_tokens).toBe(119)
    expect(record.account_id).not.toBe('')
    expect(span.resource['service.name']).toBe('ccproxy')
    // stop sequences are text the client wrote: only for tokens that opted in (the next test)
    expect(span.attributes['gen_ai.request.stop_sequences']).toBeUndefined()
    expect(span.scope).toMatchObject({ name: 'ccproxy', schemaUrl: 'https://opentelemetry.io/schemas/1.41.0' })

    expect(record).toMatchObject({ trace_id: span.traceId, span_id: span.spanId })
    expect(await row(t, record.id)).toEqual({ trace_id: span.traceId, span_id: span.spanId })
    expect(upstreamHeader(t, 'traceparent')).toBe(`00-${span.traceId}-${span.spanId}-01`)
  })

  it('a streamed OpenAI request: stream flag, time to first chunk, conversation id from `user`', async () => {
    // a token that opted in: its stop sequences are on the span too
    const stream = await openai(t, optedIn.token).chat.completions.create({
      model: MODEL,
      stream: true,
      user: 'conv-9',
      max_tokens: 50,
      stop: ['STOP'],
      messages: [{ role: 'user', content: 'Say hello' }],
    })
    for await (const _ of stream) {
      // drain
    }
    const { record, span } = await latest()
    expect(span.name).toBe(`chat ${MODEL}`)
    expect(record.stream).toBe(true)
    expect(record.ttft_ms).not.toBeNull()
    expect(span.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.stream': true,
      'gen_ai.response.time_to_first_chunk': record.ttft_ms! / 1000,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.stop_sequences': ['STOP'],
      'gen_ai.conversation.id': record.conversation_id,
      'gen_ai.usage.input_tokens': record.prompt_tokens,
      'gen_ai.usage.output_tokens': record.completion_tokens,
      'gen_ai.response.id': t.exchanges.at(-1)!.responseId,
    })
    expect(span.attributes['gen_ai.response.id']).toMatch(/^msg_/)
    expect(record.conversation_id).toBe("conv-9") // opted in: kept (masked like content)
    expect(upstreamHeader(t, 'traceparent')).toBe(`00-${span.traceId}-${span.spanId}-01`)
  })

  it('count_tokens is its own operation', async () => {
    await anthropic(t, plain.token).messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'How many?' }] })
    const { span } = await latest()
    expect(span.name).toBe(`count_tokens ${MODEL}`)
    expect(span.attributes['gen_ai.operation.name']).toBe('count_tokens')
  })
})

describe('trace context', () => {
  it("a caller's traceparent: the span joins its trace, and the upstream request names our span as parent", async () => {
    await anthropic(t, plain.token).messages.create(
      { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=abc' } },
    )
    const { record, span } = await latest()
    expect(span.traceId).toBe(CALLER_TRACE)
    expect(span.parentSpanId).toBe(CALLER_SPAN)
    expect(span.spanId).not.toBe(CALLER_SPAN)
    expect(upstreamHeader(t, 'traceparent')).toBe(`00-${CALLER_TRACE}-${span.spanId}-01`)
    expect(upstreamHeader(t, 'tracestate')).toBe('vendor=abc')
    expect(await row(t, record.id)).toEqual({ trace_id: CALLER_TRACE, span_id: span.spanId })
  })

  it('a caller that sampled its trace out: nothing is exported, the trace id is still kept and passed on', async () => {
    const posts = receiver.spans.length
    await anthropic(t, plain.token).messages.create(
      { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` } },
    )
    const record = t.records.at(-1)!
    await t.gateway.tracing.forceFlush()
    expect(receiver.spans.length).toBe(posts)
    expect(record.trace_id).toBe(CALLER_TRACE)
    expect(upstreamHeader(t, 'traceparent')).toBe(`00-${CALLER_TRACE}-${record.span_id}-00`)
  })

  it('an invalid traceparent is ignored: a trace of our own starts', async () => {
    await anthropic(t, plain.token).messages.create(
      { model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
      { headers: { traceparent: `00-${'0'.repeat(32)}-${CALLER_SPAN}-01` } },
    )
    const { span } = await latest()
    expect(span.parentSpanId).toBe('')
    expect(span.traceId).not.toBe('0'.repeat(32))
  })
})

describe('failures', () => {
  it('an upstream 400: error.type and status ERROR', async () => {
    t.upstream.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'bad' })
    await expect(anthropic(t, plain.token).messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 400 })
    const { record, span } = await latest()
    expect(record.success).toBe(false)
    expect(span.status.code).toBe(2)
    expect(span.attributes['error.type']).toBe('invalid_request_error')
  })

  it('529 on every account: error.type overloaded_error, one span for all the attempts', async () => {
    const before = receiver.spans.length
    t.upstream.enqueue({ kind: 'error', status: 529, type: 'overloaded_error' }, { kind: 'error', status: 529, type: 'overloaded_error' })
    await expect(
      openai(t, plain.token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({ status: 529 })
    const { record, span } = await latest()
    expect(record.retries).toBe(1)
    expect(span.status.code).toBe(2)
    expect(span.attributes['error.type']).toBe('overloaded_error')
    expect(receiver.spans.length).toBe(before + 1)
    // both attempts named the same span as their parent
    const parents = t.upstream.requests.map((r) => r.headers.traceparent)
    expect(parents).toEqual([`00-${span.traceId}-${span.spanId}-01`, `00-${span.traceId}-${span.spanId}-01`])
  })
})

describe('content on spans', () => {
  it('off by default, even for a token that opted in: the span points at the row', async () => {
    await anthropic(t, optedIn.token).messages.create({ model: MODEL, max_tokens: 10, system: 'Secret rules', messages: [{ role: 'user', content: 'hi' }] })
    const { record, span } = await latest()
    expect(record.content).not.toBeNull()
    for (const key of CONTENT_KEYS) expect(span.attributes).not.toHaveProperty(key)
    expect(span.attributes['ccproxy.request_log.id']).toBe(record.id)
  })

  it('with otel.capture_content, only for a token that opted in, as the conventions’ JSON', async () => {
    const g = await startTestGateway({ otel: { endpoint: receiver.url, capture_content: true } })
    try {
      const who = await g.mintToken({ name: 'opted-in' })
      await g.admin('PUT', `/api/token/${who.id}/settings`, { enable_conversation_logging: true })
      const other = await g.mintToken({ name: 'plain' })
      g.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'Hello there' }, { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'x' } }] })
      await anthropic(g, who.token).messages.create({
        model: MODEL,
        max_tokens: 50,
        system: 'Be brief.',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_0', name: 'lookup', input: { q: 'y' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_0', content: 'found' }, { type: 'text', text: 'and?' }] },
        ],
      })
      const { span } = await latest(g)
      expect(JSON.parse(span.attributes['gen_ai.system_instructions'] as string)).toEqual([{ type: 'text', content: 'Be brief.' }])
      expect(JSON.parse(span.attributes['gen_ai.input.messages'] as string)).toEqual([
        { role: 'user', parts: [{ type: 'text', content: 'hi' }] },
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'toolu_0', name: 'lookup', arguments: { q: 'y' } }] },
        { role: 'user', parts: [{ type: 'tool_call_response', id: 'toolu_0', response: 'found' }, { type: 'text', content: 'and?' }] },
      ])
      expect(JSON.parse(span.attributes['gen_ai.output.messages'] as string)).toEqual([
        {
          role: 'assistant',
          parts: [{ type: 'text', content: 'Hello there' }, { type: 'tool_call', id: 'toolu_1', name: 'lookup', arguments: { q: 'x' } }],
          finish_reason: 'tool_use',
        },
      ])

      // the OpenAI dialect maps to the same shape
      await openai(g, who.token).chat.completions.create({
        model: MODEL,
        messages: [
          { role: 'system', content: 'Sys.' },
          { role: 'user', content: 'q1' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'r1' },
        ],
      })
      const openaiSpan = (await latest(g)).span
      expect(JSON.parse(openaiSpan.attributes['gen_ai.input.messages'] as string)).toEqual([
        { role: 'system', parts: [{ type: 'text', content: 'Sys.' }] },
        { role: 'user', parts: [{ type: 'text', content: 'q1' }] },
        { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'f', arguments: { a: 1 } }] },
        { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'r1' }] },
      ])

      await anthropic(g, other.token).messages.create({ model: MODEL, max_tokens: 10, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] })
      const plainSpan = (await latest(g)).span
      for (const key of CONTENT_KEYS) expect(plainSpan.attributes).not.toHaveProperty(key)
    } finally {
      await g.close()
    }
  })
})

describe('tracing off', () => {
  it('no endpoint: nothing is sent anywhere, the caller’s trace id is still stored and its traceparent passed on unchanged', async () => {
    const quiet = await startOtlpReceiver()
    const g = await startTestGateway({ logging: { flush_interval: '100ms' } })
    try {
      const who = await g.mintToken()
      const traceparent = `00-${CALLER_TRACE}-${CALLER_SPAN}-01`
      await anthropic(g, who.token).messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent, tracestate: 'k=v' } })
      const record = g.records.at(-1)!
      expect(upstreamHeader(g, 'traceparent')).toBe(traceparent)
      expect(upstreamHeader(g, 'tracestate')).toBe('k=v')
      expect(await row(g, record.id)).toEqual({ trace_id: CALLER_TRACE, span_id: '' })

      await anthropic(g, who.token).messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      expect(upstreamHeader(g, 'traceparent')).toBeUndefined()
      expect(await row(g, g.records.at(-1)!.id)).toEqual({ trace_id: '', span_id: '' })
      await g.gateway.tracing.forceFlush()
      expect(quiet.posts).toBe(0)
    } finally {
      await g.close()
      await quiet.close()
    }
  })
})

describe('a dead collector', () => {
  it('never slows a request nor fails one, and does not hold up shutdown', async () => {
    const port = await closedPort()
    const g = await startTestGateway({ otel: { endpoint: `http://127.0.0.1:${port}` } })
    const who = await g.mintToken()
    const client = anthropic(g, who.token)
    for (let i = 0; i < 5; i++) {
      const started = performance.now()
      await client.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: `hi ${i}` }] })
      expect(performance.now() - started).toBeLessThan(2500)
    }
    expect(g.records.every((r) => r.success && r.trace_id !== '')).toBe(true)
    const closing = performance.now()
    await g.close()
    expect(performance.now() - closing).toBeLessThan(4000)
  })

  it('its errors reach the log once per interval, not once per batch, and are never thrown', async () => {
    receiver.failWith = 500
    const warnings: string[] = []
    const tracing = Tracing.create({ endpoint: receiver.url, service_name: '', capture_content: false, sample_ratio: 1 }, {}, { warn: (_obj, msg) => warnings.push(msg) })
    try {
      const posts = receiver.posts
      // a failed background export, then failed flushes
      traceOne(tracing)
      await eventually(() => expect(warnings).toHaveLength(1))
      expect(receiver.posts).toBe(posts + 1)
      for (let i = 0; i < 2; i++) {
        traceOne(tracing)
        await tracing.forceFlush()
      }
      expect(receiver.posts).toBe(posts + 3)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(/^OpenTelemetry: /)
    } finally {
      receiver.failWith = null
      await tracing.shutdown()
    }
  })
})

describe('content truncation', () => {
  it('keeps the JSON valid: long strings are cut, then the oldest messages go', () => {
    const message = (text: string) => ({ role: 'user', parts: [{ type: 'text', content: text }] })
    const small = [message('a'), message('b')]
    expect(boundedJson(small, 1000)).toBe(JSON.stringify(small))
    const long = JSON.parse(boundedJson([message('x'.repeat(10_000))], 5000))
    expect(long[0].parts[0].content).toMatch(/^x{4096}…\[truncated\]$/)
    const many = Array.from({ length: 50 }, (_, i) => message(`turn ${i} ${'y'.repeat(200)}`))
    const kept = JSON.parse(boundedJson(many, 2000))
    expect(JSON.stringify(kept).length).toBeLessThanOrEqual(2000)
    expect(kept.at(-1)).toEqual(many.at(-1))
    expect(boundedJson([message('z'.repeat(5000))], 100)).toBe('[]')
  })
})

describe('configuration', () => {
  const otel = { endpoint: '', service_name: '', capture_content: false, sample_ratio: 1 }

  it('off without an endpoint; config wins over the environment; OTEL_SDK_DISABLED turns it off', () => {
    expect(tracingSettings(otel, {})).toBeNull()
    expect(tracingSettings(otel, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318/' })).toMatchObject({ url: 'http://env:4318/v1/traces', serviceName: 'ccproxy' })
    expect(tracingSettings(otel, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://env:4318/custom' })).toMatchObject({ url: 'http://env:4318/custom' })
    expect(
      tracingSettings({ ...otel, endpoint: 'http://cfg:4318', service_name: 'from-config' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_SERVICE_NAME: 'from-env' }),
    ).toMatchObject({ url: 'http://cfg:4318/v1/traces', serviceName: 'from-config' })
    expect(tracingSettings({ ...otel, endpoint: 'http://cfg:4318' }, { OTEL_SDK_DISABLED: 'TRUE' })).toBeNull()
    expect(tracingSettings({ ...otel, endpoint: 'http://cfg:4318' }, { OTEL_SERVICE_NAME: 'from-env', OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr,team=ai%20platform,broken' })).toMatchObject({
      serviceName: 'from-env',
      resourceAttributes: { 'service.name': 'attr', team: 'ai platform' },
    })
    expect(tracingSettings({ ...otel, endpoint: 'http://cfg:4318' }, { OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr' })).toMatchObject({ serviceName: 'attr' })
  })

  it('the environment names the service and its resource; roots are sampled by otel.sample_ratio, children follow their parent', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'gw-env', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test' }
    const tracing = Tracing.create({ ...otel, sample_ratio: 0 }, env)
    try {
      const root = traceOne(tracing)
      expect(root.headers.traceparent).toBe(`00-${root.exchange.traceId}-${root.exchange.spanId}-00`)
      const child = traceOne(tracing, `00-${CALLER_TRACE}-${CALLER_SPAN}-01`)
      expect(child.headers.traceparent).toBe(`00-${CALLER_TRACE}-${child.exchange.spanId}-01`)
      await tracing.forceFlush()
      const exported = receiver.spans.filter((s) => s.resource['service.name'] === 'gw-env')
      expect(exported.map((s) => s.spanId)).toEqual([child.exchange.spanId])
      expect(exported[0]!.resource['deployment.environment.name']).toBe('test')
      expect(exported[0]!.attributes).toMatchObject({ 'server.address': 'api.anthropic.com', 'server.port': 443 })
    } finally {
      await tracing.shutdown()
    }
  })
})

/** Runs one exchange through a Tracing outside a gateway. */
function traceOne(tracing: Tracing, traceparent?: string) {
  const exchange = new Exchange('messages')
  exchange.requestedModel = MODEL
  exchange.joinTrace(traceparent, undefined)
  const headers = tracing.begin(exchange, new URL('https://api.anthropic.com'))
  exchange.statusCode = 200
  exchange.finish()
  tracing.end(exchange, toRecord(exchange, new Redactor({ builtin: false, rules: [] })))
  return { exchange, headers }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
