import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { GatewayMetrics } from '../src/sinks/metrics.ts'
import { METRIC } from '../src/sinks/metric-names.ts'
import { metricsRoute } from '../src/admin/metrics-route.ts'
import type { RequestRecord } from '../src/record/request-record.ts'
import type { ExporterStats } from '../src/sinks/exporter.ts'
import { Exchange } from '../src/record/exchange.ts'
import { toRecord } from '../src/record/build.ts'
import { Redactor } from '../src/record/redaction.ts'
import { ADMIN_KEY, UPSTREAM_KEYS, eventually, startTestGateway, type TestGateway } from './support/gateway.ts'

// ---------------------------------------------------------------------------------------------
// The exposition, parsed: enough of the text format to read samples and their labels.

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

function parse(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) })
  }
  return samples
}

const pick = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
const total = (samples: Sample[], name: string, labels: Record<string, string> = {}) => pick(samples, name, labels).reduce((sum, s) => sum + s.value, 0)
/** A histogram's cumulative bucket counts for one series, le → count, in the exposition's order. */
const buckets = (samples: Sample[], name: string, labels: Record<string, string>) => new Map(pick(samples, `${name}_bucket`, labels).map((s) => [s.labels.le!, s.value]))

// ---------------------------------------------------------------------------------------------
// Known records

const ACCOUNT_A = 'cfg_0a1b2c3d'
const ACCOUNT_B = 'acc_5e6f7a8b'

function record(over: Partial<RequestRecord> & { usage?: [input: number, output: number, cacheRead: number, cacheCreation: number] } = {}): RequestRecord {
  const { usage = [0, 0, 0, 0], ...rest } = over
  const [input, output, cacheRead, cacheCreation] = usage
  const prompt = input + cacheRead + cacheCreation
  return {
    id: 'rec',
    request_at: new Date(),
    response_at: new Date(),
    duration_ms: 1000,
    ttft_ms: null,
    token_id: 'tok_alice',
    user_name: 'alice',
    account_id: ACCOUNT_A,
    mode: 'api',
    endpoint: 'messages',
    model: 'claude-sonnet-4-6',
    response_model: 'claude-sonnet-4-6-20260201',
    stream: false,
    status_code: 200,
    success: true,
    error_type: '',
    error_message: '',
    stop_reason: 'end_turn',
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    cache_creation_tokens: cacheCreation,
    cache_read_tokens: cacheRead,
    upstream_request_id: 'req_011',
    retries: 0,
    client_ip: '127.0.0.1',
    user_agent: 'test',
    conversation_id: '',
    trace_id: '',
    span_id: '',
    request_params: {},
    content: null,
    ...rest,
  }
}

const RECORDS: RequestRecord[] = [
  record({ usage: [100, 50, 2000, 300], duration_ms: 1500, ttft_ms: 1400 }),
  record({ stream: true, usage: [10, 20, 0, 0], duration_ms: 3000, ttft_ms: 150 }),
  record({ endpoint: 'chat.completions', mode: 'web', stream: true, usage: [5, 7, 64, 0], duration_ms: 900, ttft_ms: 40 }),
  record({ status_code: 429, success: false, error_type: 'rate_limit_error', response_model: '', duration_ms: 30, account_id: ACCOUNT_B }),
  record({ endpoint: 'count_tokens', response_model: '', duration_ms: 20 }),
  record({ endpoint: 'models', model: '', response_model: '', duration_ms: 5 }),
  record({ stream: true, status_code: 529, success: false, error_type: 'overloaded_error', response_model: '', duration_ms: 500 }),
]

function exporterStats(over: Partial<ExporterStats> = {}): ExporterStats {
  return { queueDepth: 0, peakQueueDepth: 0, rowsWritten: 0, conversationRowsWritten: 0, rowsSpooled: 0, rowsReplayed: 0, rowsDropped: 0, conversationRowsDropped: 0, queueBytes: 0, spoolBytes: 0, batches: 0, lastBatchMs: 0, ...over }
}

function metricsOf(opts: { tokenLabels?: boolean; accounts?: Array<{ id: string; up: boolean }>; exporter?: ExporterStats } = {}) {
  // Both accounts of the records are in the pool unless a test says otherwise (series of other accounts are removed).
  const accounts = opts.accounts ?? [
    { id: ACCOUNT_A, up: true },
    { id: ACCOUNT_B, up: true },
  ]
  return new GatewayMetrics({ tokenLabels: opts.tokenLabels ?? false, accounts: () => accounts, exporter: () => opts.exporter ?? exporterStats() })
}

async function scrape(m: GatewayMetrics): Promise<Sample[]> {
  return parse((await m.exposition()).body)
}

// The conventions' boundaries, written out (not taken from the module under test).
const DURATION_LE = ['0.01', '0.02', '0.04', '0.08', '0.16', '0.32', '0.64', '1.28', '2.56', '5.12', '10.24', '20.48', '40.96', '81.92', '+Inf']
const TOKEN_LE = ['1', '4', '16', '64', '256', '1024', '4096', '16384', '65536', '262144', '1048576', '4194304', '16777216', '67108864', '+Inf']
const TTFT_LE = ['0.001', '0.005', '0.01', '0.02', '0.04', '0.06', '0.08', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf']

// ---------------------------------------------------------------------------------------------

describe('GatewayMetrics: the projection of records', () => {
  let s: Sample[]
  beforeAll(async () => {
    const m = metricsOf()
    for (const r of RECORDS) m.observe(r)
    s = await scrape(m)
  })

  it('counts requests by endpoint, mode, model, status code and account', () => {
    expect(total(s, METRIC.requests)).toBe(RECORDS.length)
    expect(pick(s, METRIC.requests, { endpoint: 'messages', status_code: '200' })).toEqual([
      { name: METRIC.requests, labels: { endpoint: 'messages', mode: 'api', model: 'claude-sonnet-4-6', status_code: '200', account: ACCOUNT_A }, value: 2 },
    ])
    expect(total(s, METRIC.requests, { endpoint: 'messages', status_code: '429', account: ACCOUNT_B })).toBe(1)
    expect(total(s, METRIC.requests, { endpoint: 'messages', status_code: '529' })).toBe(1)
    expect(total(s, METRIC.requests, { endpoint: 'chat.completions', mode: 'web' })).toBe(1)
    expect(total(s, METRIC.requests, { endpoint: 'count_tokens' })).toBe(1)
    expect(total(s, METRIC.requests, { endpoint: 'models', model: '' })).toBe(1)
  })

  it('counts tokens by type, input being the uncached part, so the types add up to every token', () => {
    expect(total(s, METRIC.tokens, { type: 'input' })).toBe(100 + 10 + 5)
    expect(total(s, METRIC.tokens, { type: 'output' })).toBe(50 + 20 + 7)
    expect(total(s, METRIC.tokens, { type: 'cache_read' })).toBe(2000 + 64)
    expect(total(s, METRIC.tokens, { type: 'cache_creation' })).toBe(300)
    expect(total(s, METRIC.tokens)).toBe(RECORDS.reduce((sum, r) => sum + r.total_tokens, 0))
    expect(new Set(pick(s, METRIC.tokens).map((x) => x.labels.model))).toEqual(new Set(['claude-sonnet-4-6']))
  })

  it('times every GenAI operation (not model listing), with error_type empty when ok', () => {
    const count = `${METRIC.operationDuration}_count`
    expect(total(s, count)).toBe(RECORDS.length - 1)
    expect(total(s, count, { gen_ai_operation_name: 'chat' })).toBe(5)
    expect(total(s, count, { gen_ai_operation_name: 'count_tokens' })).toBe(1)
    expect(total(s, count, { error_type: 'rate_limit_error' })).toBe(1)
    expect(total(s, count, { error_type: 'overloaded_error' })).toBe(1)
    expect(total(s, count, { error_type: '' })).toBe(4)
    expect(pick(s, count).every((x) => x.labels.gen_ai_provider_name === 'anthropic')).toBe(true)
    expect(total(s, `${METRIC.operationDuration}_sum`, { gen_ai_operation_name: 'count_tokens' })).toBeCloseTo(0.02)
    expect(pick(s, count, { gen_ai_operation_name: 'chat', gen_ai_response_model: 'claude-sonnet-4-6-20260201' })[0]!.labels).toEqual({
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'anthropic',
      gen_ai_request_model: 'claude-sonnet-4-6',
      gen_ai_response_model: 'claude-sonnet-4-6-20260201',
      error_type: '',
    })
  })

  it('uses the conventions’ duration buckets (0.01 … 81.92 s)', () => {
    const ok = { gen_ai_operation_name: 'chat', error_type: '' }
    const b = buckets(s, METRIC.operationDuration, ok)
    expect([...b.keys()]).toEqual(DURATION_LE)
    // 1.5 s, 3 s and 0.9 s
    expect([b.get('0.64'), b.get('1.28'), b.get('2.56'), b.get('5.12'), b.get('+Inf')]).toEqual([0, 1, 2, 3, 3])
  })

  it('records input (cache included) and output tokens per operation, only where upstream reported usage', () => {
    const count = `${METRIC.tokenUsage}_count`
    expect(total(s, count, { gen_ai_token_type: 'input' })).toBe(3)
    expect(total(s, count, { gen_ai_token_type: 'output' })).toBe(3)
    expect(total(s, `${METRIC.tokenUsage}_sum`, { gen_ai_token_type: 'input' })).toBe(2400 + 10 + 69)
    expect(total(s, `${METRIC.tokenUsage}_sum`, { gen_ai_token_type: 'output' })).toBe(77)
    expect(pick(s, count, { gen_ai_operation_name: 'count_tokens' })).toEqual([])
    const b = buckets(s, METRIC.tokenUsage, { gen_ai_token_type: 'input', gen_ai_response_model: 'claude-sonnet-4-6-20260201' })
    expect([...b.keys()]).toEqual(TOKEN_LE)
    // 2400, 10 and 69 input tokens
    expect([b.get('4'), b.get('16'), b.get('64'), b.get('256'), b.get('4096'), b.get('67108864')]).toEqual([0, 1, 1, 2, 3, 3])
  })

  it('times the first token of streams only (not of non-streamed answers, nor of streams that never started)', () => {
    expect(total(s, `${METRIC.timeToFirstToken}_count`)).toBe(2)
    const b = buckets(s, METRIC.timeToFirstToken, { gen_ai_response_model: 'claude-sonnet-4-6-20260201' })
    expect([...b.keys()]).toEqual(TTFT_LE)
    // 0.15 s and 0.04 s (a bound is inclusive)
    expect([b.get('0.02'), b.get('0.04'), b.get('0.1'), b.get('0.25')]).toEqual([0, 1, 1, 2])
  })

  it('has no token label unless token_labels is on', () => {
    expect(s.some((x) => 'token' in x.labels)).toBe(false)
  })
})

describe('GatewayMetrics: labels', () => {
  it('token_labels adds the token id to the request and token counters, and nowhere else', async () => {
    const m = metricsOf({ tokenLabels: true })
    for (const r of RECORDS) m.observe(r)
    const s = await scrape(m)
    const withToken = s.filter((x) => 'token' in x.labels)
    expect(new Set(withToken.map((x) => x.name))).toEqual(new Set([METRIC.requests, METRIC.tokens]))
    expect(pick(s, METRIC.requests).every((x) => x.labels.token === 'tok_alice')).toBe(true)
    expect(pick(s, METRIC.tokens).every((x) => x.labels.token === 'tok_alice')).toBe(true)
    expect(total(s, METRIC.requests, { token: 'tok_alice' })).toBe(RECORDS.length)
  })

  it('never lets what the record carries beside ids, models and outcomes into a label', async () => {
    // The record is built the way the gateway builds it, from an exchange a hostile client filled in.
    const key = `sk-ant-api03-${'Q'.repeat(93)}AA`
    const exchange = new Exchange('messages')
    Object.assign(exchange, {
      tokenId: 'tok_alice',
      userName: 'SECRET-user-name',
      accountId: ACCOUNT_A,
      attempts: 1,
      requestedModel: key,
      responseModel: 'claude "sonnet"\nwith a newline',
      clientIp: '203.0.113.77',
      userAgent: 'SECRET-agent',
      upstreamRequestId: 'req_SECRET',
      conversationId: 'conv-SECRET',
      stopReason: 'SECRET-stop',
    })
    exchange.fail(400, 'SECRET type', `SECRET upstream said ${key}`)
    Object.assign(exchange.usage, { input_tokens: 1, output_tokens: 1 })
    exchange.finish()
    const m = metricsOf({ tokenLabels: true, accounts: [{ id: ACCOUNT_A, up: true }] })
    m.observe(toRecord(exchange, new Redactor({ builtin: true, rules: [] })))
    const { body } = await m.exposition()
    expect(body).not.toContain('SECRET')
    expect(body).not.toContain('sk-ant')
    expect(body).not.toContain('203.0.113.77')
    expect(body).not.toContain('newline')
    // a model name that is neither known nor vouched for by the upstream is shown as "other"
    expect(total(parse(body), METRIC.requests, { model: 'other', token: 'tok_alice', account: ACCOUNT_A })).toBe(1)
    expect(total(parse(body), `${METRIC.operationDuration}_count`, { gen_ai_request_model: 'other', gen_ai_response_model: 'other', error_type: 'api_error' })).toBe(1)
  })

  it('an unknown model the upstream answered keeps its name; one it refused is `other`', async () => {
    const m = metricsOf({ tokenLabels: false, accounts: [] })
    const asked = (model: string, status: number) => {
      const exchange = new Exchange('messages')
      Object.assign(exchange, { attempts: 1, requestedModel: model, statusCode: status, ...(status === 200 ? { responseModel: `${model}-20270101` } : {}) })
      if (status !== 200) exchange.fail(status, 'not_found_error', `model: ${model}`)
      exchange.finish()
      m.observe(toRecord(exchange, new Redactor({ builtin: true, rules: [] })))
    }
    asked('claude-newer-9', 200)
    asked('claude-typo-9', 404)
    asked('claude-sonnet-4-6', 429)
    const s = parse((await m.exposition()).body)
    expect(new Set(pick(s, METRIC.requests).map((x) => x.labels.model))).toEqual(new Set(['claude-newer-9', 'other', 'claude-sonnet-4-6']))
  })
})

describe('GatewayMetrics: gauges and the exporter', () => {
  it('counts requests in flight; each end counts once', async () => {
    const m = metricsOf()
    const a = m.started()
    const b = m.started()
    a()
    a()
    expect(total(await scrape(m), METRIC.requestsInFlight)).toBe(1)
    b()
    expect(total(await scrape(m), METRIC.requestsInFlight)).toBe(0)
  })

  it('reads account health at scrape time, and forgets removed accounts', async () => {
    const accounts = [
      { id: ACCOUNT_A, up: true },
      { id: ACCOUNT_B, up: false },
    ]
    const m = new GatewayMetrics({ tokenLabels: false, accounts: () => accounts, exporter: () => exporterStats() })
    expect(pick(await scrape(m), METRIC.accountUp).map((x) => [x.labels.account, x.value])).toEqual([
      [ACCOUNT_A, 1],
      [ACCOUNT_B, 0],
    ])
    accounts[0]!.up = false
    accounts.pop()
    expect(pick(await scrape(m), METRIC.accountUp).map((x) => [x.labels.account, x.value])).toEqual([[ACCOUNT_A, 0]])
  })

  it('mirrors the exporter’s queue, row totals and spool at scrape time', async () => {
    let stats = exporterStats({ queueDepth: 12, rowsWritten: 500, rowsSpooled: 40, rowsReplayed: 30, rowsDropped: 2, spoolBytes: 4096 })
    const m = new GatewayMetrics({ tokenLabels: false, accounts: () => [], exporter: () => stats })
    let s = await scrape(m)
    expect(total(s, METRIC.exporterQueueDepth)).toBe(12)
    expect(total(s, METRIC.exporterSpoolBytes)).toBe(4096)
    expect(Object.fromEntries(pick(s, METRIC.exporterRows).map((x) => [x.labels.outcome, x.value]))).toEqual({ written: 500, spooled: 40, replayed: 30, dropped: 2 })
    stats = exporterStats({ rowsWritten: 510, rowsSpooled: 40, rowsReplayed: 70, rowsDropped: 2 })
    s = await scrape(m)
    expect(total(s, METRIC.exporterRows, { outcome: 'written' })).toBe(510)
    expect(total(s, METRIC.exporterRows, { outcome: 'replayed' })).toBe(70)
    expect(total(s, METRIC.exporterQueueDepth)).toBe(0)
  })

  it('times exporter batches by outcome', async () => {
    const m = metricsOf()
    m.batch({ rows: 100, ms: 12, outcome: 'written' })
    m.batch({ rows: 100, ms: 30, outcome: 'written' })
    m.batch({ rows: 50, ms: 3000, outcome: 'spooled' })
    const s = await scrape(m)
    expect(total(s, `${METRIC.exporterBatchDuration}_count`, { outcome: 'written' })).toBe(2)
    expect(total(s, `${METRIC.exporterBatchDuration}_sum`, { outcome: 'written' })).toBeCloseTo(0.042)
    const b = buckets(s, METRIC.exporterBatchDuration, { outcome: 'spooled' })
    expect([b.get('2.5'), b.get('5'), b.get('+Inf')]).toEqual([0, 1, 1])
  })

  it('includes the default process metrics in the same exposition', async () => {
    const { contentType, body } = await metricsOf().exposition()
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(body).toContain('# TYPE process_cpu_user_seconds_total counter')
    expect(body).toContain('# TYPE nodejs_heap_size_used_bytes gauge')
    for (const name of Object.values(METRIC)) expect(body).toContain(`# TYPE ${name} `)
  })
})

describe('GET /metrics', () => {
  const app = async (bearerToken: string, path = '/metrics') => {
    const m = metricsOf()
    m.observe(RECORDS[0]!)
    const a = Fastify()
    metricsRoute(a, m, { path, bearerToken })
    await a.ready()
    return a
  }

  it('is open when no bearer token is configured', async () => {
    const res = await (await app('', '/internal/prometheus')).inject({ method: 'GET', url: '/internal/prometheus' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(res.body).toContain('ccproxy_requests_total{endpoint="messages"')
  })

  it('wants the configured bearer token when there is one', async () => {
    const a = await app('scrape-token-0123456789')
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: 'Basic c2NyYXBlLXRva2Vu' }, { authorization: 'Bearer scrape-token-01234567890' }]) {
      const res = await a.inject({ method: 'GET', url: '/metrics', headers })
      expect(res.statusCode).toBe(401)
      expect(res.json()).toEqual({ error: 'invalid or missing bearer token' })
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"')
      expect(res.body).not.toContain('ccproxy_')
    }
    expect((await a.inject({ method: 'GET', url: '/metrics?token=scrape-token-0123456789' })).statusCode).toBe(401)
    const ok = await a.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-token-0123456789' } })
    expect(ok.statusCode).toBe(200)
    expect(ok.body).toContain('ccproxy_requests_total')
  })
})

// ---------------------------------------------------------------------------------------------
// promtool. CI installs it (apt-get install prometheus); without it these tests are skipped, loudly.

const HAS_PROMTOOL = spawnSync('promtool', ['--version']).error === undefined
if (!HAS_PROMTOOL) console.warn('test/metrics.test.ts: promtool not found, skipping `promtool check metrics` (apt-get install prometheus)')

/** prom-client's default gauges named *_total; promtool rightly objects to them, and they are not ours to rename. */
const DEFAULT_METRIC_LINT = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

function promtool(text: string): { status: number | null; problems: string[] } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: run.status, problems: `${run.stdout}${run.stderr}`.split('\n').filter(Boolean) }
}

describe.skipIf(!HAS_PROMTOOL)('promtool check metrics (skipped when promtool is not installed: apt-get install prometheus)', () => {
  let m: GatewayMetrics
  let ours: string
  beforeAll(async () => {
    m = metricsOf({ tokenLabels: true, accounts: [{ id: ACCOUNT_A, up: true }], exporter: exporterStats({ rowsWritten: 3 }) })
    for (const r of RECORDS) m.observe(r)
    m.started()
    m.batch({ rows: 3, ms: 5, outcome: 'written' })
    ours = (await Promise.all(Object.values(METRIC).map((name) => m.registry.getSingleMetricAsString(name)))).join('\n\n') + '\n'
  })

  it('passes on every one of our families, each with samples', () => {
    const sampled = new Set(parse(ours).map((x) => x.name.replace(/_(bucket|sum|count)$/, '')))
    expect(sampled).toEqual(new Set(Object.values(METRIC)))
    expect(promtool(ours)).toEqual({ status: 0, problems: [] })
  })

  it('finds nothing in the full exposition beyond prom-client’s known default-metric names', async () => {
    const { status, problems } = promtool((await m.exposition()).body)
    expect(problems.filter((p) => !DEFAULT_METRIC_LINT.includes(p.split(' ')[0]!))).toEqual([])
    expect([0, 3]).toContain(status) // 3: lint findings (the defaults'); 1 would be a parse error
  })

  it('would catch a family of ours that breaks the lint', () => {
    const broken = `${ours}# HELP ccproxy_broken_total a gauge named like a counter\n# TYPE ccproxy_broken_total gauge\nccproxy_broken_total 1\n`
    const { status, problems } = promtool(broken)
    expect(status).toBe(3)
    expect(problems.some((p) => p.startsWith('ccproxy_broken_total '))).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------
// END TO END, on a running gateway: needs the wiring in src/server.ts (GatewayMetrics in startGateway,
// observe() per record, exporter.onBatch, RunningGateway.metrics) and src/app.ts (in-flight hook on the
// proxied routes, metricsRoute when metrics.enabled).

describe('end to end: /metrics of a gateway serving real SDK clients', () => {
  const SCRAPE_TOKEN = 'scrape-token-e2e-0123456789'
  const MODEL = 'claude-sonnet-4-6'
  let t: TestGateway
  let token: { token: string; id: string }
  const anthropic = () => new Anthropic({ baseURL: t.url, apiKey: token.token, maxRetries: 0 })
  const openai = () => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token.token, maxRetries: 0 })
  const scrapeGateway = async () => {
    const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${SCRAPE_TOKEN}` } })
    expect(res.status).toBe(200)
    return res.text()
  }
  const samplesNow = async () => parse(await scrapeGateway())
  const user = (content: string) => [{ role: 'user' as const, content }]

  beforeAll(async () => {
    // One attempt per request, so an upstream error reaches the client as it is.
    t = await startTestGateway({ claude: { max_attempts: 1 }, metrics: { bearer_token: SCRAPE_TOKEN, token_labels: true } })
    token = await t.mintToken({ name: 'metrics-e2e' })

    // Anthropic SDK: two answers (one with cache usage), a stream, a count; OpenAI SDK: an answer, a stream, the models.
    await anthropic().messages.create({ model: MODEL, max_tokens: 50, messages: user('hello metrics') })
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'cached answer' }], usage: { input_tokens: 12, cache_read_input_tokens: 2048, cache_creation_input_tokens: 512 } })
    await anthropic().messages.create({ model: MODEL, max_tokens: 50, messages: user('with the cache') })
    await anthropic().messages.stream({ model: MODEL, max_tokens: 50, messages: user('stream me please') }).finalMessage()
    await anthropic().messages.countTokens({ model: MODEL, messages: user('count these words') })
    await openai().chat.completions.create({ model: MODEL, messages: user('openai answer') })
    for await (const _ of await openai().chat.completions.create({ model: MODEL, messages: user('openai stream'), stream: true, stream_options: { include_usage: true } })) void _
    await openai().models.list()

    // A slow stream, scraped while it flows.
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'one two three four five' }], chunkDelayMs: 60 })
    const slow = anthropic().messages.stream({ model: MODEL, max_tokens: 50, messages: user('slowly') })
    await new Promise<void>((resolve) => slow.on('text', () => resolve()))
    expect(total(await samplesNow(), METRIC.requestsInFlight)).toBe(1)
    await slow.finalMessage()

    // Upstream errors last: the 429 rests its account.
    t.upstream.enqueue({ kind: 'error', status: 529, type: 'overloaded_error' })
    await expect(anthropic().messages.create({ model: MODEL, max_tokens: 50, messages: user('overloaded') })).rejects.toMatchObject({ status: 529 })
    t.upstream.enqueue({ kind: 'error', status: 429, type: 'rate_limit_error', headers: { 'retry-after': '120' } })
    await expect(openai().chat.completions.create({ model: MODEL, messages: user('rate limited') })).rejects.toMatchObject({ status: 429 })

    await eventually(() => expect(t.records).toHaveLength(10))
    await t.gateway.exporter.forceFlush()
  })
  afterAll(() => t?.close())

  it('asks for the bearer token', async () => {
    expect((await fetch(`${t.url}/metrics`)).status).toBe(401)
    expect((await fetch(`${t.url}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401)
  })

  it('counts the requests per endpoint and status as the records have them', async () => {
    const s = await samplesNow()
    expect(total(s, METRIC.requests)).toBe(10)
    const expected: Record<string, number> = {
      'messages 200': 4,
      'messages 529': 1,
      'count_tokens 200': 1,
      'chat.completions 200': 2,
      'chat.completions 429': 1,
      'models 200': 1,
    }
    const fromRecords: Record<string, number> = {}
    for (const r of t.records) fromRecords[`${r.endpoint} ${r.status_code}`] = (fromRecords[`${r.endpoint} ${r.status_code}`] ?? 0) + 1
    expect(fromRecords).toEqual(expected)
    for (const [key, n] of Object.entries(expected)) {
      const [endpoint, status_code] = key.split(' ') as [string, string]
      expect(total(s, METRIC.requests, { endpoint, status_code }), key).toBe(n)
    }
    // per-token labels carry the token's id, never the token
    expect(pick(s, METRIC.requests).every((x) => x.labels.token === token.id)).toBe(true)
  })

  it('counts the tokens the records hold, type by type', async () => {
    const s = await samplesNow()
    const sum = (f: (r: RequestRecord) => number) => t.records.reduce((n, r) => n + f(r), 0)
    expect(total(s, METRIC.tokens, { type: 'input' })).toBe(sum((r) => r.prompt_tokens - r.cache_read_tokens - r.cache_creation_tokens))
    expect(total(s, METRIC.tokens, { type: 'output' })).toBe(sum((r) => r.completion_tokens))
    expect(total(s, METRIC.tokens, { type: 'cache_read' })).toBe(sum((r) => r.cache_read_tokens))
    expect(total(s, METRIC.tokens, { type: 'cache_creation' })).toBe(sum((r) => r.cache_creation_tokens))
    expect(total(s, METRIC.tokens)).toBe(sum((r) => r.total_tokens))
    expect(total(s, METRIC.tokens, { type: 'cache_read' })).toBe(2048)
  })

  it('observes the GenAI histograms once per operation, and the first token once per stream', async () => {
    const s = await samplesNow()
    const genai = t.records.filter((r) => r.endpoint !== 'models')
    expect(total(s, `${METRIC.operationDuration}_count`)).toBe(genai.length)
    expect(total(s, `${METRIC.operationDuration}_count`, { gen_ai_operation_name: 'count_tokens' })).toBe(1)
    expect(total(s, `${METRIC.operationDuration}_count`, { error_type: 'rate_limit_error' })).toBe(1)
    expect(total(s, `${METRIC.operationDuration}_count`, { error_type: 'overloaded_error' })).toBe(1)
    const withUsage = t.records.filter((r) => r.total_tokens > 0)
    expect(total(s, `${METRIC.tokenUsage}_count`, { gen_ai_token_type: 'input' })).toBe(withUsage.length)
    expect(total(s, `${METRIC.tokenUsage}_sum`, { gen_ai_token_type: 'input' })).toBe(withUsage.reduce((n, r) => n + r.prompt_tokens, 0))
    expect(total(s, `${METRIC.timeToFirstToken}_count`)).toBe(3)
    expect(t.records.filter((r) => r.stream)).toHaveLength(3)
  })

  it('shows nothing in flight once the responses are over', async () => {
    await eventually(async () => expect(total(await samplesNow(), METRIC.requestsInFlight)).toBe(0))
  })

  it('reads account health from the pool: the rate-limited account is down', async () => {
    const s = await samplesNow()
    const limited = t.records.find((r) => r.status_code === 429)!.account_id
    const up = Object.fromEntries(pick(s, METRIC.accountUp).map((x) => [x.labels.account, x.value]))
    expect(Object.keys(up)).toHaveLength(UPSTREAM_KEYS.length)
    expect(up[limited]).toBe(0)
    expect(Object.values(up).filter((v) => v === 1)).toHaveLength(UPSTREAM_KEYS.length - 1)
  })

  it('mirrors the exporter: rows written and one timed batch per batch', async () => {
    const s = await samplesNow()
    const stats = t.gateway.exporter.stats()
    expect(total(s, METRIC.exporterRows, { outcome: 'written' })).toBe(stats.rowsWritten)
    expect(stats.rowsWritten).toBeGreaterThanOrEqual(10)
    expect(total(s, `${METRIC.exporterBatchDuration}_count`)).toBe(stats.batches)
    expect(total(s, METRIC.exporterQueueDepth)).toBe(0)
    expect(total(s, METRIC.exporterSpoolBytes)).toBe(0)
  })

  it('exposes no secret: not the client token, the upstream keys, the admin key or the scrape token', async () => {
    const text = await scrapeGateway()
    for (const secret of [token.token, ...UPSTREAM_KEYS, ADMIN_KEY, SCRAPE_TOKEN]) expect(text).not.toContain(secret)
  })
})

// ---------------------------------------------------------------------------------------------
// Cardinality: the series of accounts and tokens that are gone are removed, and every request family has a cap.

describe('GatewayMetrics: bounded cardinality', () => {
  it('past max_label_sets, new label sets fold their ids, models and error type into `other`; nothing is lost', async () => {
    const accounts = Array.from({ length: 6 }, (_, i) => ({ id: `acc_${i}`, up: true }))
    const m = new GatewayMetrics({ tokenLabels: true, maxLabelSets: 2, accounts: () => accounts, exporter: () => exporterStats() })
    for (let i = 0; i < 6; i++) m.observe(record({ account_id: `acc_${i}`, token_id: `tok_${i}`, error_type: `kind_${i}`, status_code: 500 + i, usage: [10, 1, 0, 0] }))
    const s = await scrape(m)
    const requests = pick(s, METRIC.requests)
    expect(requests.map((x) => x.labels.account)).toEqual(['acc_0', 'acc_1', 'other', 'other', 'other', 'other'])
    // the status code is bounded by construction and is kept: alerts on 5xx still see every request
    expect(pick(s, METRIC.requests, { account: 'other' }).map((x) => [x.labels.token, x.labels.model, x.labels.status_code])).toEqual([
      ['other', 'other', '502'],
      ['other', 'other', '503'],
      ['other', 'other', '504'],
      ['other', 'other', '505'],
    ])
    expect(total(s, METRIC.requests)).toBe(6)
    expect(total(s, METRIC.tokens, { type: 'input' })).toBe(60)
    expect(new Set(pick(s, `${METRIC.operationDuration}_count`).map((x) => x.labels.error_type))).toEqual(new Set(['kind_0', 'kind_1', 'other']))
    expect(total(s, `${METRIC.operationDuration}_count`)).toBe(6)
  })

  it('removes the series of an account that left the pool and of a retired token, from every family that has them', async () => {
    let accounts = [
      { id: ACCOUNT_A, up: true },
      { id: ACCOUNT_B, up: true },
    ]
    const retired = new Set<string>()
    const m = new GatewayMetrics({ tokenLabels: true, accounts: () => accounts, tokenRetired: (id) => retired.has(id), exporter: () => exporterStats() })
    m.observe(record({ account_id: ACCOUNT_A, token_id: 'tok_alice', usage: [1, 1, 0, 0] }))
    m.observe(record({ account_id: ACCOUNT_B, token_id: 'tok_bob', usage: [1, 1, 0, 0] }))
    m.observe(record({ account_id: '', token_id: '', status_code: 401, success: false, error_type: 'authentication_error' }))
    accounts = [{ id: ACCOUNT_A, up: true }]
    let s = await scrape(m)
    expect(pick(s, METRIC.requests).map((x) => x.labels.account)).toEqual([ACCOUNT_A, ''])
    expect(pick(s, METRIC.tokens, { token: 'tok_bob' })).toHaveLength(2) // no account label here
    retired.add('tok_bob')
    s = await scrape(m)
    expect(s.some((x) => x.labels.token === 'tok_bob' || x.labels.account === ACCOUNT_B)).toBe(false)
    expect(pick(s, METRIC.tokens, { token: 'tok_alice' })).toHaveLength(2)
    // A late record of the deleted account (its request was in flight) never reaches a scrape.
    m.observe(record({ account_id: ACCOUNT_B, token_id: 'tok_alice' }))
    expect((await scrape(m)).some((x) => x.labels.account === ACCOUNT_B)).toBe(false)
  })
})

describe('end to end: /metrics forgets deleted accounts and revoked or expired tokens', () => {
  const MODEL = 'claude-sonnet-4-6'
  let t: TestGateway
  const ask = (apiKey: string) => new Anthropic({ baseURL: t.url, apiKey, maxRetries: 0 }).messages.create({ model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
  const scrapeText = async () => (await fetch(`${t.url}/metrics`)).text()

  beforeAll(async () => {
    t = await startTestGateway({ auth: { token_cache_ttl: '200ms' }, metrics: { token_labels: true } })
  })
  afterAll(() => t?.close())

  it('an account deleted through the admin API leaves no series behind', async () => {
    const added = await t.admin('POST', '/api/account/apikey', { name: 'short-lived', api_key: 'sk-ant-api03-short-lived-account-0000', priority: -1 })
    expect(added.status).toBe(200)
    const id: string = added.body.id
    const token = await t.mintToken({ name: 'account-user' })
    for (let i = 0; i < 3; i++) await ask(token.token)
    await eventually(() => expect(t.records.filter((r) => r.account_id === id)).toHaveLength(3))
    expect(total(parse(await scrapeText()), METRIC.requests, { account: id })).toBe(3)

    expect((await t.admin('DELETE', `/api/account/${id}`)).status).toBe(200)
    const text = await scrapeText()
    expect(text).not.toContain(id)
    // only that account's series went: the token's next request, through a config account, counts afresh
    await ask(token.token)
    await eventually(async () => expect(total(parse(await scrapeText()), METRIC.requests, { token: token.id })).toBe(1))
  })

  it('a revoked token leaves no series behind (with metrics.token_labels on); other tokens keep theirs', async () => {
    const doomed = await t.mintToken({ name: 'doomed' })
    const kept = await t.mintToken({ name: 'kept' })
    await ask(doomed.token)
    await ask(kept.token)
    await eventually(async () => {
      const s = parse(await scrapeText())
      expect(total(s, METRIC.requests, { token: doomed.id })).toBe(1)
      expect(total(s, METRIC.tokens, { token: doomed.id })).toBeGreaterThan(0)
    })
    expect((await t.admin('POST', '/api/token/revoke', { id: doomed.id })).status).toBe(200)
    // seen within auth.token_cache_ttl
    await eventually(async () => expect(await scrapeText()).not.toContain(doomed.id))
    expect(total(parse(await scrapeText()), METRIC.requests, { token: kept.id })).toBe(1)
  })

  it('an expired token leaves no series behind', async () => {
    const brief = await t.mintToken({ name: 'brief', expires_in: '2s' })
    await ask(brief.token)
    await eventually(async () => expect(total(parse(await scrapeText()), METRIC.requests, { token: brief.id })).toBe(1))
    await eventually(async () => expect(await scrapeText()).not.toContain(brief.id), 4000)
  })
})

describe('end to end: metrics.max_label_sets caps each family', () => {
  let t: TestGateway
  beforeAll(async () => {
    t = await startTestGateway({ metrics: { token_labels: true, max_label_sets: 3 } })
  })
  afterAll(() => t?.close())

  it('a gateway with more tokens than the cap exposes at most the cap, plus the folded sets, and counts every request', async () => {
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => t.mintToken({ name: `many-${i}` })))
    for (const token of tokens) {
      await new Anthropic({ baseURL: t.url, apiKey: token.token, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
    }
    await eventually(() => expect(t.records).toHaveLength(8))
    const text = await (await fetch(`${t.url}/metrics`)).text()
    const s = parse(text)
    const requests = pick(s, METRIC.requests)
    expect(requests.filter((x) => x.labels.token !== 'other')).toHaveLength(3)
    expect(pick(s, METRIC.requests, { token: 'other', account: 'other', model: 'other' })).toHaveLength(1)
    expect(total(s, METRIC.requests)).toBe(8)
    for (const family of [METRIC.tokens, METRIC.operationDuration]) {
      const sets = new Set(s.filter((x) => x.name.startsWith(family) && !x.name.endsWith('_bucket')).map((x) => JSON.stringify({ ...x.labels, le: undefined })))
      expect(sets.size, family).toBeLessThanOrEqual(3 * 2 + 2)
    }
    if (HAS_PROMTOOL) expect(promtool(text).problems.filter((p) => !DEFAULT_METRIC_LINT.includes(p.split(' ')[0]!))).toEqual([])
  })
})
