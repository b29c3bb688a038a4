import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Anthropic from '@anthropic-ai/sdk'
import AnthropicLegacy from 'anthropic-sdk-0x'
import { startTestGateway, eventually, UPSTREAM_KEYS, type TestGateway, json } from './support/gateway.ts'

let t: TestGateway
let token: string
const client = () => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
const legacy = () => new AnthropicLegacy({ baseURL: t.url, apiKey: token, maxRetries: 0 })
const MODEL = 'claude-sonnet-4-6'

beforeAll(async () => {
  t = await startTestGateway({ claude: { idle_timeout: '1s', first_byte_timeout: '2s' } })
  token = (await t.mintToken({ name: 'alice', mode: 'api' })).token
})
afterAll(() => t.close())
beforeEach(() => t.upstream.reset())

const lastUpstream = () => t.upstream.requests.at(-1)!

describe('POST /v1/messages pass-through', () => {
  it('answers a non-streamed request like the API itself (SDK 1.x, Bearer token)', async () => {
    const msg = await client().messages.create({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'hello there gateway' }] })
    expect(msg.content).toEqual([{ type: 'text', text: 'Echo: hello there gateway' }])
    expect(msg.stop_reason).toBe('end_turn')
    expect(msg.usage.input_tokens).toBe(3)
    // the client's token never goes upstream; the account's key does
    expect(lastUpstream().apiKey).toBe(UPSTREAM_KEYS[0])
    expect(JSON.stringify(lastUpstream().headers)).not.toContain(token)
    await eventually(() => expect(t.exchanges.at(-1)).toMatchObject({ endpoint: 'messages', statusCode: 200, stopReason: 'end_turn', tokenId: expect.any(String) }))
  })

  it('works with the 0.x SDK (x-api-key, 2023-06-01) and forwards the body byte for byte', async () => {
    const body = {
      model: MODEL,
      max_tokens: 50,
      temperature: 0.3,
      top_k: 5,
      metadata: { user_id: 'u-123' },
      thinking: { type: 'enabled', budget_tokens: 1024 },
      system: [{ type: 'text', text: 'be brief', cache_control: { type: 'ephemeral' } }],
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      messages: [{ role: 'user', content: 'hi' }],
      future_field: { anything: [1, 2, 3] },
    }
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31,context-1m-2025-08-07', 'content-type': 'application/json' },
      body: JSON.stringify(body, null, 2),
    })
    expect(res.status).toBe(200)
    expect(lastUpstream().rawBody).toBe(JSON.stringify(body, null, 2))
    expect(lastUpstream().headers['anthropic-version']).toBe('2023-06-01')
    expect(lastUpstream().headers['anthropic-beta']).toBe('prompt-caching-2024-07-31,context-1m-2025-08-07')
    expect(res.headers.get('request-id')).toMatch(/^req_/)

    const msg = await legacy().messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'legacy client' }] })
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Echo: legacy client' })
    expect(lastUpstream().headers['anthropic-version']).toBe('2023-06-01')
  })

  it('keeps ?beta=true and anthropic-beta for the beta client', async () => {
    await legacy().beta.messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'beta' }], betas: ['interleaved-thinking-2025-05-14'] })
    expect(lastUpstream().query).toBe('?beta=true')
    expect(lastUpstream().headers['anthropic-beta']).toContain('interleaved-thinking-2025-05-14')
  })

  it('relays a stream event by event as it arrives', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'one two three four five six' }], chunkDelayMs: 60 })
    const stream = client().messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'count' }] })
    const arrivals: number[] = []
    stream.on('text', () => arrivals.push(Date.now()))
    const final = await stream.finalMessage()
    expect(final.content).toEqual([{ type: 'text', text: 'one two three four five six' }])
    expect(arrivals.length).toBeGreaterThanOrEqual(6)
    // spread over time, not delivered in one burst at the end
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(200)
    await eventually(() => {
      const e = t.exchanges.at(-1)!
      expect(e).toMatchObject({ stream: true, stopReason: 'end_turn', statusCode: 200 })
      expect(e.usage.output_tokens).toBe(6)
      expect(e.ttftMs).not.toBeNull()
      expect(e.ttftMs!).toBeLessThan(e.durationMs!)
    })
  })

  it('streams tool use with argument fragments the SDK reassembles', async () => {
    t.upstream.enqueue({
      kind: 'reply',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', name: 'get_weather', input: { city: 'Oslo', unit: 'c' } },
      ],
    })
    const final = await client()
      .messages.stream({ model: MODEL, max_tokens: 200, messages: [{ role: 'user', content: 'weather?' }], tools: [{ name: 'get_weather', input_schema: { type: 'object' } }] })
      .finalMessage()
    expect(final.stop_reason).toBe('tool_use')
    expect(final.content[1]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Oslo', unit: 'c' } })
    expect(lastUpstream().body.tools).toEqual([{ name: 'get_weather', input_schema: { type: 'object' } }])
  })

  it('counts tokens through /v1/messages/count_tokens', async () => {
    const res = await client().messages.countTokens({ model: MODEL, messages: [{ role: 'user', content: 'four words right here' }] })
    expect(res.input_tokens).toBe(4)
    expect(lastUpstream().path).toBe('/v1/messages/count_tokens')
  })

  it('relays upstream client errors with their status and body', async () => {
    t.upstream.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'messages.0: bad block' })
    const err = await client().messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err).toBeInstanceOf(Anthropic.BadRequestError)
    expect(err.error.error).toEqual({ type: 'invalid_request_error', message: 'messages.0: bad block' })
    expect(t.upstream.requests).toHaveLength(1) // a client mistake is not retried on another account
  })

  it('turns a mid-stream upstream error into the SDK error it expects', async () => {
    t.upstream.enqueue({ kind: 'midstream-error', afterBlocks: 1, type: 'overloaded_error', message: 'Overloaded', content: [{ type: 'text', text: 'partial answer' }, { type: 'text', text: 'never sent' }] })
    const stream = client().messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'x' }] })
    const err = await stream.finalMessage().catch((e) => e)
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect(String(err.message)).toContain('Overloaded')
    await eventually(() => expect(t.exchanges.at(-1)).toMatchObject({ errorType: 'overloaded_error', success: false }))
  })

  it('ends a stream that goes silent with an error event (idle timeout)', async () => {
    t.upstream.enqueue({ kind: 'hang-after-start' })
    const stream = client().messages.stream({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'x' }] })
    const err = await stream.finalMessage().catch((e) => e)
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect(String(err.message)).toMatch(/idle timeout/)
  })
})

describe('failover between accounts', () => {
  it('a 401 from upstream marks the account unhealthy and the request moves to the next account', async () => {
    t.upstream.forKey(UPSTREAM_KEYS[0]!, { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' })
    const msg = await client().messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'failover' }] })
    expect(msg.content[0]).toMatchObject({ text: 'Echo: failover' })
    expect(t.upstream.requests.map((r) => r.apiKey)).toEqual(UPSTREAM_KEYS)
    const accounts = (await t.admin('GET', '/api/account/list')).body as any[]
    const bad = accounts.find((a) => a.name === 'config key 1')
    expect(bad).toMatchObject({ status: 'unhealthy', last_error: 'upstream refused the credentials (401)' })
    expect(bad.cooldown_until).toBeTruthy()
    // while it rests, requests go straight to the healthy account
    t.upstream.reset()
    await client().messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'again' }] })
    expect(t.upstream.requests.map((r) => r.apiKey)).toEqual([UPSTREAM_KEYS[1]])
  })

  it('every account refusing its key is a 502, not the client’s 401', async () => {
    for (const key of UPSTREAM_KEYS) t.upstream.forKey(key, { kind: 'error', status: 401, type: 'authentication_error', message: 'invalid x-api-key' })
    t.gateway.services.pool.setAccounts([]) // forget earlier health
    await t.gateway.services.accounts.reload()
    const err = await client().messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err.status).toBe(502)
    expect(err.error.error.message).toMatch(/refused by Anthropic/)
  })

  it('no account available is a 503 with Retry-After', async () => {
    // both accounts are resting after the 401s above
    const res = await fetch(`${t.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    })
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await json(res)).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } })
  })

  it('429 and 529 move to the next account; when every attempt fails the last answer is relayed', async () => {
    t.gateway.services.pool.setAccounts([])
    await t.gateway.services.accounts.reload()
    t.upstream.enqueue({ kind: 'error', status: 429, type: 'rate_limit_error', message: 'slow down', headers: { 'retry-after': '7' } })
    const ok = await client().messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'after 429' }] })
    expect(ok.content[0]).toMatchObject({ text: 'Echo: after 429' })
    expect(t.upstream.requests).toHaveLength(2)
    const { pool } = t.gateway.services
    const limited = pool.accounts.find((a) => a.apiKey === t.upstream.requests[0]!.apiKey)!
    expect(pool.health(limited.id)).toMatchObject({ status: 'cooling_down', last_error: 'rate limited (429)' })
    expect(pool.health(limited.id).cooldown_until!.getTime() - Date.now()).toBeGreaterThan(5000)

    t.upstream.reset()
    t.gateway.services.pool.setAccounts([])
    await t.gateway.services.accounts.reload()
    t.upstream.enqueue({ kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' }, { kind: 'error', status: 529, type: 'overloaded_error', message: 'Overloaded' })
    const err = await client().messages.create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e)
    expect(err.status).toBe(529)
    expect(err.error.error.type).toBe('overloaded_error')
    expect(t.upstream.requests).toHaveLength(2)
  })

  it('a client that disconnects mid-stream aborts the upstream request', async () => {
    t.gateway.services.pool.setAccounts([])
    await t.gateway.services.accounts.reload()
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ') }], chunkDelayMs: 50 })
    const controller = new AbortController()
    const stream = client().messages.stream({ model: MODEL, max_tokens: 1000, messages: [{ role: 'user', content: 'long' }] }, { signal: controller.signal })
    await new Promise<void>((resolve) => stream.on('text', () => resolve()))
    controller.abort()
    await stream.finalMessage().catch(() => {})
    await eventually(() => expect(t.upstream.requests.at(-1)!.aborted).toBe(true))
    await eventually(() => expect(t.exchanges.at(-1)).toMatchObject({ clientAborted: true }))
  })
})

describe('Claude Code compatibility', () => {
  it('accepts telemetry posts with 200', async () => {
    const res = await fetch(`${t.url}/api/event_logging/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"events":[]}' })
    expect(res.status).toBe(200)
  })

  it('lists models in Anthropic shape for anthropic-version callers and OpenAI shape otherwise', async () => {
    const anthropic = await client().models.list()
    expect(anthropic.data.map((m) => m.id)).toContain('claude-sonnet-4-6')
    const res = await fetch(`${t.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })
    const body = await json(res)
    expect(body.object).toBe('list')
    expect(body.data[0]).toMatchObject({ object: 'model', owned_by: 'anthropic', created: expect.any(Number) })
  })
})
