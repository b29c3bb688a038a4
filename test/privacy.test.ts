import { Writable } from 'node:stream'
import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import OpenAI from 'openai'
import Anthropic from '@anthropic-ai/sdk'
import { createLogger } from '../src/logging.ts'
import { buildApp } from '../src/app.ts'
import { boundedUserAgent, ourFieldPath, ownErrorMessage } from '../src/record/privacy.ts'
import { startTestGateway, eventually, type TestGateway } from './support/gateway.ts'

// Hostile inputs through the real SDKs: for a token without conversation logging nothing the client wrote
// may reach request_logs, usage_stats_daily, /metrics or the log; for one with it, secrets are masked.
let t: TestGateway
let plain: { token: string; id: string }
let optedIn: { token: string; id: string }
const MODEL = 'claude-sonnet-4-6'
const TRAP = 'zqxTRAPzqx' // every client-written value below carries it; it must never be stored for `plain`

const openai = (token: string, headers: Record<string, string> = {}) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0, defaultHeaders: headers })
const anthropic = (token: string, headers: Record<string, string> = {}) => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0, defaultHeaders: headers })

beforeAll(async () => {
  t = await startTestGateway({ logging: { flush_interval: '100ms' } })
  plain = await t.mintToken({ name: 'plain' })
  optedIn = await t.mintToken({ name: 'opted-in' })
  await t.admin('PUT', `/api/token/${optedIn.id}/settings`, { enable_conversation_logging: true })
})
afterAll(() => t.close())
beforeEach(() => t.upstream.reset())

/** The request_logs row of the latest finished exchange. */
async function latestRow(): Promise<any> {
  const id = t.records.at(-1)!.id
  let row: any
  await eventually(async () => {
    ;[row] = await t.rows('SELECT * FROM request_logs WHERE id = {id:UUID}', { id })
    expect(row).toBeDefined()
  })
  return row
}

async function fails(request: Promise<unknown>): Promise<void> {
  const before = t.records.length
  await request.then(
    () => expect.unreachable('the request should have failed'),
    () => {},
  )
  await eventually(() => expect(t.records.length).toBeGreaterThan(before))
}

describe('a token without conversation logging', () => {
  it('stores the gateway’s own error text, never the values the client sent', async () => {
    // an invalid tool argument: the parser's message quotes the JSON
    await fails(
      openai(plain.token).chat.completions.create({
        model: MODEL,
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'login', arguments: `{"password": "${TRAP}` } }] },
          { role: 'tool', tool_call_id: 'call_1', content: 'ok' },
        ],
      }),
    )
    expect(await latestRow()).toMatchObject({
      status_code: 400,
      error_type: 'invalid_request_error',
      error_message: 'the request was invalid at messages[1].tool_calls[0].function.arguments (the details are not kept: this token does not log conversations)',
    })

    // an image media type of the client's choosing
    await fails(
      openai(plain.token).chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/x-${TRAP};base64,AAAA` } }] }],
      }),
    )
    expect((await latestRow()).error_message).toBe('unsupported image type (the details are not kept: this token does not log conversations)')

    // a metadata key of the client's choosing in the field path
    await fails(openai(plain.token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], metadata: { [TRAP]: 5 } as any }))
    expect((await latestRow()).error_message).toBe('the request was invalid at metadata.* (the details are not kept: this token does not log conversations)')

    // an unknown model: Anthropic answers 404 and names it
    const model = `sk-ant-api03-${TRAP}-pasted-by-mistake`
    t.upstream.enqueue({ kind: 'error', status: 404, type: 'not_found_error', message: `model: ${model}` })
    await fails(anthropic(plain.token).messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }))
    expect(await latestRow()).toMatchObject({ model: 'other', error_type: 'not_found_error', error_message: 'not found at model (the details are not kept: this token does not log conversations)' })

    // an upstream error that echoes the prompt
    t.upstream.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: `messages.0.content: prompt "${TRAP}" is too long` })
    await fails(anthropic(plain.token).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: TRAP }] }))
    expect((await latestRow()).error_message).toBe('the request was invalid at messages.0.content (the details are not kept: this token does not log conversations)')

    // the gateway's own sentences stay as they are
    await fails(openai(plain.token).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], n: 2 }))
    expect((await latestRow()).error_message).toBe('n > 1 is not supported: Claude returns a single choice per request')
  })

  it('keeps identifiers as keyed pseudonyms and the user agent as a known client', async () => {
    const conversation = { 'x-conversation-id': `conv-${TRAP}` }
    await openai(plain.token, conversation).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
    const first = await latestRow()
    await anthropic(plain.token, { ...conversation, 'user-agent': `homemade-${TRAP}/1.0` }).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
    const second = await latestRow()
    await openai(optedIn.token, conversation).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] })
    const otherToken = await latestRow()

    expect(first.conversation_id).toMatch(/^anon-[0-9a-f]{32}$/)
    expect(second.conversation_id).toBe(first.conversation_id) // one conversation still groups
    expect(otherToken.conversation_id).toBe(`conv-${TRAP}`) // opted in: kept (after masking)
    expect(first.user_agent).toMatch(/^OpenAI\/JS \d+\.\d+/)
    expect(second.user_agent).toBe('other')

    // OpenAI `user` and metadata.user_id go the same way
    await openai(plain.token).chat.completions.create({ model: MODEL, user: `alice-${TRAP}@example.com`, messages: [{ role: 'user', content: 'x' }] })
    expect((await latestRow()).conversation_id).toMatch(/^anon-/)
    await anthropic(plain.token).messages.create({ model: MODEL, max_tokens: 5, metadata: { user_id: `user-${TRAP}` }, messages: [{ role: 'user', content: 'x' }] })
    expect((await latestRow()).conversation_id).toMatch(/^anon-/)
  })

  it('nothing it wrote is in its request_logs rows, the daily usage or /metrics', async () => {
    const rows = await t.rows('SELECT * FROM request_logs WHERE token_id = {id:String}', { id: plain.id })
    expect(rows.length).toBeGreaterThanOrEqual(8)
    expect(JSON.stringify(rows).toLowerCase()).not.toContain(TRAP.toLowerCase())
    const usage = await t.rows<{ model: string }>('SELECT DISTINCT model FROM usage_stats_daily WHERE token_id = {id:String}', { id: plain.id })
    // '' is a request refused before it named a model
    expect(new Set(usage.map((u) => u.model))).toEqual(new Set(['', MODEL, 'other']))
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    expect(metrics.toLowerCase()).not.toContain(TRAP.toLowerCase())
    expect(metrics).toContain('model="other"')
  })
})

describe('a token that logs conversations', () => {
  const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const pemLine = pem.split('\n')[1]!
  const envFile = `# .env\nDB_PASSWORD=opensesame42\nAWS_SECRET_ACCESS_KEY=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/+Ab\nSTRIPE=sk_live_${'4'.repeat(24)}\n`
  const png = Buffer.alloc(2048, 1).toString('base64')

  it('a pasted file in a tool result, a tool call’s input and an image: secrets masked, media as a placeholder', async () => {
    t.upstream.enqueue({ kind: 'reply', content: [{ type: 'text', text: 'Your DB_PASSWORD=opensesame42 is weak.' }] })
    await anthropic(optedIn.token).messages.create({
      model: MODEL,
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'read my config' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Read', input: { file_path: '.env', password: 'opensesame42' } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: `${envFile}${pem}` },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            { type: 'text', text: 'and postgres://app:hunter22@db/app' },
          ],
        },
      ],
    })
    const id = t.records.at(-1)!.id
    let content: any
    await eventually(async () => {
      ;[content] = await t.rows('SELECT * FROM conversation_contents WHERE request_log_id = {id:UUID}', { id })
      expect(content).toBeDefined()
    })
    const stored = JSON.stringify(content)
    for (const secret of ['opensesame42', 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789', pemLine, 'hunter22', png]) expect(stored).not.toContain(secret)
    const messages = JSON.parse(content.messages_json)
    expect(messages[1].content[0].input).toEqual({ file_path: '.env', password: '[REDACTED_SECRET]' })
    expect(messages[2].content[1].source.data).toBe('[media not stored: image/png, 2048 bytes]')
    expect(JSON.parse(content.tool_results)[0].content).toContain('DB_PASSWORD=[REDACTED_SECRET]')
    expect(content.completion).toBe('Your DB_PASSWORD=[REDACTED_SECRET] is weak.')
  })

  it('identifiers and error texts are masked like content', async () => {
    const key = `sk-ant-api03-${'k'.repeat(40)}`
    await openai(optedIn.token).chat.completions.create({ model: MODEL, user: `KEY_${key}`, messages: [{ role: 'user', content: 'x' }] })
    expect((await latestRow()).conversation_id).toBe('KEY_[REDACTED_ANTHROPIC_KEY]')
    t.upstream.enqueue({ kind: 'error', status: 400, type: 'invalid_request_error', message: 'cannot use DB_PASSWORD=opensesame42 here' })
    await fails(anthropic(optedIn.token).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }))
    expect((await latestRow()).error_message).toBe('cannot use DB_PASSWORD=[REDACTED_SECRET] here')
  })
})

describe('the log', () => {
  function capture() {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk))
        done()
      },
    })
    return { logger: createLogger('info', sink), text: () => lines.join('') }
  }

  it('names routes, never URLs as sent: no query string, no path of an unknown route', async () => {
    const log = capture()
    const app = buildApp(t.gateway.services, { logger: log.logger })
    const headers = { authorization: `Bearer ${plain.token}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }
    const body = JSON.stringify({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
    expect((await app.inject({ method: 'POST', url: `/v1/messages?beta=true&api_key=${TRAP}`, headers, payload: body })).statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: `/v1/${TRAP}/path?q=${TRAP}`, headers })).statusCode).toBe(404)
    await app.close()
    expect(log.text()).toContain('"route":"/v1/messages"')
    expect(log.text()).toContain('"route":"(no route)"')
    expect(log.text()).not.toContain(TRAP)
  })

  it('an error line keeps where it happened; its message is masked', async () => {
    const log = capture()
    const app = Fastify({ loggerInstance: log.logger })
    app.get('/boom', async () => {
      throw new Error('parse failed near "DB_PASSWORD=opensesame42"')
    })
    expect((await app.inject({ method: 'GET', url: '/boom' })).statusCode).toBe(500)
    await app.close()
    expect(log.text()).toContain('DB_PASSWORD=[REDACTED_SECRET]')
    expect(log.text()).toContain('privacy.test.ts')
    expect(log.text()).not.toContain('opensesame42')
  })
})

describe('the parts', () => {
  it('a field path keeps our field names and indices, nothing else', () => {
    expect(ourFieldPath('messages[3].content[0].image_url.url')).toBe('messages[3].content[0].image_url.url')
    expect(ourFieldPath('metadata.my_secret_key')).toBe('metadata.*')
    expect(ourFieldPath('tools[0].function.parameters."x y"')).toBe('')
  })

  it.each([
    'request body is nested deeper than 256 levels',
    'the request did not arrive in full within server.body_timeout',
    'the request line and headers are larger than the 16384-byte limit',
    'ccproxy is starting and cannot serve yet: could not read the tokens yet; try again shortly',
    'token store unavailable, try again shortly',
  ])('the gateway\'s own sentence is kept as it is: %s', (message) => {
    expect(ownErrorMessage('invalid_request_error', message)).toBe(message)
  })

  it('a reason that is not the gateway\'s own wording is not kept', () => {
    expect(ownErrorMessage('api_error', 'ccproxy is starting and cannot serve yet: SELECT secret FROM x; try again shortly')).not.toContain('secret')
  })

  it('an error type outside the vocabulary gets the generic description', () => {
    expect(ownErrorMessage('weird', 'anything at all')).toBe('the request failed (the details are not kept: this token does not log conversations)')
    expect(ownErrorMessage('api_error', 'upstream stream interrupted: ECONNRESET')).toBe('upstream stream interrupted: ECONNRESET')
  })

  it('user agents: known clients with their version, else other', () => {
    expect(boundedUserAgent('claude-cli/1.0.83 (external, cli)')).toBe('claude-cli/1.0.83')
    expect(boundedUserAgent('Anthropic/JS 0.61.0')).toBe('Anthropic/JS 0.61.0')
    expect(boundedUserAgent('curl/8.5.0')).toBe('curl/8.5.0')
    expect(boundedUserAgent('my-script (contact: me@example.com)')).toBe('other')
    expect(boundedUserAgent('')).toBe('')
  })
})
