// Mock Anthropic Messages API for the gateway's test suite.
//
// Written from the public reference in /work/shared/reference/wire-formats.md (cited as §n below),
// not from gateway code. node:http only.
//
// Token accounting is deliberately simple and deterministic (the real API uses a tokenizer):
//   - one token = one whitespace-separated word (see countWords);
//   - input_tokens  = words across `system` + every message's text (text blocks, tool_result text,
//                     thinking text, tool_use input as JSON), at least 1;
//   - output_tokens = words of generated text/thinking + TOOL_USE_TOKENS per tool_use block.
// `max_tokens` limits output tokens counted that way; `stop_sequences` cut text blocks (§1.2).

import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  method: string
  path: string
  query: string // raw query string incl. leading '?', or ''
  headers: Record<string, string | string[] | undefined>
  body: any // parsed JSON or undefined
  rawBody: string
  apiKey: string | undefined // from x-api-key or Authorization: Bearer
  aborted: boolean // client went away before the response finished
}

export type Block =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id?: string; name: string; input: unknown }
  | { type: 'thinking'; thinking: string; signature?: string }

type UsageOverride = Partial<{
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens: number
  cache_read_input_tokens: number
}>

export type Scenario =
  | { kind: 'reply'; content?: Block[]; stopReason?: string; usage?: UsageOverride; model?: string; chunkDelayMs?: number; headers?: Record<string, string> }
  | { kind: 'error'; status: number; type?: string; message?: string; headers?: Record<string, string>; rawBody?: string }
  | { kind: 'midstream-error'; afterBlocks?: number; type?: string; message?: string; content?: Block[] }
  | { kind: 'hang' } // accept the request, never answer (headers never sent)
  | { kind: 'hang-after-start' } // send 200 + message_start, then nothing more (idle stream)
  | { kind: 'drop' } // destroy the socket without a response

/**
 * A permission a key lacks (§4: 403 `permission_error`, "key lacks permission"): requests for this model or
 * with this beta are refused, by every key or only by `apiKey`. The answer depends on the request, unlike
 * a refused key (401).
 */
export interface Denial {
  model?: string
  beta?: string
  apiKey?: string
}

export interface MockAnthropic {
  url: string
  requests: RecordedRequest[]
  enqueue(...s: Scenario[]): void
  forKey(apiKey: string, s: Scenario): void
  deny(rule: Denial): void
  validKeys: Set<string> | null
  reset(): void
  close(): Promise<void>
}

/** Output tokens charged for each tool_use block (its input JSON is not word-counted). */
export const TOOL_USE_TOKENS = 10

/**
 * Models served by GET /v1/models (§8 Anthropic shape). Ids come from the `Model` union of
 * @anthropic-ai/sdk 1.14; the created_at dates are placeholders.
 */
export const MOCK_MODELS: ReadonlyArray<{ id: string; display_name: string; created_at: string }> = [
  { id: 'claude-opus-4-8', display_name: 'Claude Opus 4.8', created_at: '2026-09-01T00:00:00Z' },
  { id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-02-01T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
  { id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
]

/** The mock's token unit: whitespace-separated words. */
export function countWords(text: string): number {
  return text.match(/\S+/g)?.length ?? 0
}

// ---------------------------------------------------------------------------------------------
// Error bodies (§4)

const ERROR_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
}

const DEFAULT_ERROR_MESSAGE: Record<string, string> = {
  invalid_request_error: 'Invalid request',
  authentication_error: 'invalid x-api-key',
  billing_error: 'Your credit balance is too low',
  permission_error: 'Your API key does not have permission to use the specified resource.',
  not_found_error: 'Not found',
  conflict_error: 'Conflict',
  request_too_large: 'Request exceeds the maximum allowed number of bytes.',
  rate_limit_error: 'Number of request tokens has exceeded your per-minute rate limit',
  api_error: 'Internal server error',
  timeout_error: 'Request timed out',
  overloaded_error: 'Overloaded',
}

function errorTypeFor(status: number): string {
  return ERROR_TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

/** Reverse mapping, used when a midstream-error scenario hits a non-streaming request. */
function statusForErrorType(type: string): number {
  for (const [status, t] of Object.entries(ERROR_TYPE_BY_STATUS)) if (t === type) return Number(status)
  return 500
}

function errorBody(type: string, message: string, requestId: string) {
  return { type: 'error', error: { type, message }, request_id: requestId }
}

// ---------------------------------------------------------------------------------------------
// SSE framing (§3): every message has an `event:` line whose name equals the JSON `type`.

function sseFrame(data: { type: string }): string {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`
}

/** Split text into word-sized deltas that concatenate back to the original ("a b" → ["a", " b"]). */
function splitWords(text: string): string[] {
  const parts: string[] = [...(text.match(/\s*\S+/g) ?? [])]
  const consumed = parts.join('').length
  if (consumed < text.length) {
    if (parts.length) parts[parts.length - 1] += text.slice(consumed)
    else parts.push(text)
  }
  return parts
}

/** Split a JSON string into `n` (≥2 when possible) roughly equal fragments. */
function splitFragments(s: string, n = 3): string[] {
  const size = Math.max(1, Math.ceil(s.length / n))
  const out: string[] = []
  for (let i = 0; i < s.length; i += size) out.push(s.slice(i, i + size))
  return out
}

// ---------------------------------------------------------------------------------------------
// Request text / token estimate

function textOf(content: unknown): string[] {
  if (typeof content === 'string') return [content]
  if (!Array.isArray(content)) return []
  const out: string[] = []
  for (const b of content as any[]) {
    if (!b || typeof b !== 'object') continue
    if (b.type === 'text' && typeof b.text === 'string') out.push(b.text)
    else if (b.type === 'thinking' && typeof b.thinking === 'string') out.push(b.thinking)
    else if (b.type === 'tool_use') out.push(JSON.stringify(b.input ?? {}))
    else if (b.type === 'tool_result') out.push(...textOf(b.content))
  }
  return out
}

function estimateInputTokens(body: any): number {
  const texts = [...textOf(body?.system)]
  for (const m of Array.isArray(body?.messages) ? body.messages : []) texts.push(...textOf(m?.content))
  return Math.max(1, texts.reduce((n, t) => n + countWords(t), 0))
}

/** Text of the last user message: string content or its text blocks concatenated. */
function lastUserText(body: any): string {
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : []
  const last = [...msgs].reverse().find((m) => m?.role === 'user')
  if (!last) return ''
  if (typeof last.content === 'string') return last.content
  if (!Array.isArray(last.content)) return ''
  return last.content.filter((b: any) => b?.type === 'text' && typeof b.text === 'string').map((b: any) => b.text).join('')
}

// ---------------------------------------------------------------------------------------------
// Generation semantics: stop_sequences, max_tokens, usage (§1.2, §2)

type OutBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'thinking'; thinking: string; signature: string }

interface Generated {
  id: string
  model: string
  content: OutBlock[]
  stop_reason: string
  stop_sequence: string | null
  usage: {
    input_tokens: number
    cache_creation_input_tokens: number
    cache_read_input_tokens: number
    cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number }
    output_tokens: number
    service_tier: 'standard'
  }
}

/** Keep the first `n` words of `text` (original spacing preserved up to the n-th word's end). */
function firstWords(text: string, n: number): string {
  if (n <= 0) return ''
  const re = /\S+/g
  let m: RegExpExecArray | null
  let end = 0
  for (let i = 0; i < n && (m = re.exec(text)); i++) end = m.index + m[0].length
  return text.slice(0, end)
}

function generate(
  body: any,
  scenario: { content?: Block[]; stopReason?: string; usage?: UsageOverride; model?: string },
  ids: { msg: () => string; tool: () => string },
): Generated {
  const source: Block[] = scenario.content ?? [{ type: 'text', text: `Echo: ${lastUserText(body)}` }]
  const stopSeqs: string[] = Array.isArray(body?.stop_sequences) ? body.stop_sequences.filter((s: unknown) => typeof s === 'string' && s !== '') : []
  const maxTokens: number = typeof body?.max_tokens === 'number' ? body.max_tokens : Infinity

  const content: OutBlock[] = []
  let used = 0
  let forced: { reason: string; seq: string | null } | null = null

  for (const b of source) {
    if (b.type === 'tool_use') {
      if (used + TOOL_USE_TOKENS > maxTokens) { forced = { reason: 'max_tokens', seq: null }; break }
      used += TOOL_USE_TOKENS
      content.push({ type: 'tool_use', id: b.id ?? ids.tool(), name: b.name, input: b.input ?? {} })
      continue
    }
    let text = b.type === 'text' ? b.text : b.thinking
    // stop_sequences apply to generated text, not to thinking.
    if (b.type === 'text') {
      let hit: { at: number; seq: string } | null = null
      for (const seq of stopSeqs) {
        const at = text.indexOf(seq)
        if (at >= 0 && (!hit || at < hit.at)) hit = { at, seq }
      }
      if (hit) { text = text.slice(0, hit.at); forced = { reason: 'stop_sequence', seq: hit.seq } }
    }
    const words = countWords(text)
    if (used + words > maxTokens) {
      text = firstWords(text, maxTokens - used)
      forced = { reason: 'max_tokens', seq: null }
    }
    used += countWords(text)
    if (text === '' && forced?.reason === 'max_tokens') break // budget already spent: no empty block
    content.push(b.type === 'text'
      ? { type: 'text', text }
      : { type: 'thinking', thinking: text, signature: b.signature ?? Buffer.from(`mock-signature:${countWords(text)}`).toString('base64') })
    if (forced) break
  }

  const last = content[content.length - 1]
  const stop_reason = forced?.reason ?? scenario.stopReason ?? (last?.type === 'tool_use' ? 'tool_use' : 'end_turn')
  const u = scenario.usage ?? {}
  const cacheCreation = u.cache_creation_input_tokens ?? 0
  return {
    id: ids.msg(),
    model: scenario.model ?? String(body?.model),
    content,
    stop_reason,
    stop_sequence: forced?.seq ?? null,
    usage: {
      input_tokens: u.input_tokens ?? estimateInputTokens(body),
      cache_creation_input_tokens: cacheCreation,
      cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
      // All cache writes are attributed to the default 5-minute TTL.
      cache_creation: { ephemeral_5m_input_tokens: cacheCreation, ephemeral_1h_input_tokens: 0 },
      output_tokens: u.output_tokens ?? used,
      service_tier: 'standard',
    },
  }
}

/** Non-stream Message JSON (§2). */
function messageJson(g: Generated) {
  return { id: g.id, type: 'message', role: 'assistant', model: g.model, content: g.content, stop_reason: g.stop_reason, stop_sequence: g.stop_sequence, usage: g.usage }
}

/** message_start event: empty content, null stop fields, placeholder output_tokens (§3 usage semantics). */
function messageStartEvent(g: Generated) {
  return {
    type: 'message_start',
    message: { ...messageJson(g), content: [], stop_reason: null, stop_sequence: null, usage: { ...g.usage, output_tokens: Math.min(1, g.usage.output_tokens) } },
  }
}

/** content_block_start/delta…/stop events for one block (§3 delta table). */
function blockEvents(b: OutBlock, index: number): Array<{ type: string }> {
  const ev: Array<{ type: string } & Record<string, unknown>> = []
  const delta = (d: Record<string, unknown>) => ev.push({ type: 'content_block_delta', index, delta: d })
  if (b.type === 'text') {
    ev.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } })
    for (const t of splitWords(b.text)) delta({ type: 'text_delta', text: t })
  } else if (b.type === 'tool_use') {
    ev.push({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } })
    delta({ type: 'input_json_delta', partial_json: '' })
    // A tool with no arguments sends only the empty fragment, like the real API (§3, §9.3).
    const json = JSON.stringify(b.input)
    if (json !== '{}') for (const f of splitFragments(json)) delta({ type: 'input_json_delta', partial_json: f })
  } else {
    ev.push({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } })
    for (const t of splitWords(b.thinking)) delta({ type: 'thinking_delta', thinking: t })
    delta({ type: 'signature_delta', signature: b.signature })
  }
  ev.push({ type: 'content_block_stop', index })
  return ev
}

/** The full event sequence of a successful stream (§3 order). */
function streamEvents(g: Generated): Array<{ type: string }> {
  const ev: Array<{ type: string }> = [messageStartEvent(g), { type: 'ping' }]
  g.content.forEach((b, i) => ev.push(...blockEvents(b, i)))
  ev.push({
    type: 'message_delta',
    delta: { stop_reason: g.stop_reason, stop_sequence: g.stop_sequence },
    // Cumulative totals: input/cache repeated, output final.
    usage: {
      input_tokens: g.usage.input_tokens,
      cache_creation_input_tokens: g.usage.cache_creation_input_tokens,
      cache_read_input_tokens: g.usage.cache_read_input_tokens,
      output_tokens: g.usage.output_tokens,
    },
  } as { type: string })
  ev.push({ type: 'message_stop' })
  return ev
}

// ---------------------------------------------------------------------------------------------
// Server

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref())

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', () => resolve(null))
    req.on('close', () => { if (!req.complete) resolve(null) })
  })
}

function apiKeyOf(req: http.IncomingMessage): string | undefined {
  const x = req.headers['x-api-key']
  if (typeof x === 'string' && x !== '') return x
  const auth = req.headers['authorization']
  const m = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null
  return m?.[1]?.trim() || undefined
}

/** Returns an error message if the Messages body is invalid (§1.2), else null. */
function validateMessagesBody(body: any, version: string, countOnly: boolean): string | null {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'Request body must be a JSON object'
  if (body.model === undefined) return 'model: Field required'
  if (typeof body.model !== 'string' || body.model === '') return 'model: Input should be a valid string'
  if (!countOnly) {
    if (body.max_tokens === undefined) return 'max_tokens: Field required'
    if (!Number.isInteger(body.max_tokens)) return 'max_tokens: Input should be a valid integer'
    if (body.max_tokens < 1) return 'max_tokens: Input should be greater than or equal to 1'
  }
  if (body.messages === undefined) return 'messages: Field required'
  if (!Array.isArray(body.messages)) return 'messages: Input should be a valid list'
  if (body.messages.length === 0) return 'messages: at least one message is required'
  // 2026-10-21 removed the sampling parameters entirely (§0).
  if (version === '2026-10-21') {
    for (const f of ['temperature', 'top_p', 'top_k']) {
      if (f in body) return `${f}: Extra inputs are not permitted (removed in anthropic-version 2026-10-21)`
    }
  }
  return null
}

export async function startMockAnthropic(opts?: { validKeys?: string[] }): Promise<MockAnthropic> {
  let queue: Scenario[] = []
  let perKey = new Map<string, Scenario>()
  let denials: Denial[] = []
  let seq = 0
  let closing = false
  const nextId = (prefix: string) => `${prefix}_01Mock${String(++seq).padStart(8, '0')}`
  const ids = { msg: () => nextId('msg'), tool: () => nextId('toolu') }

  const server = http.createServer({ noDelay: true }, (req, res) => {
    void handle(req, res).catch(() => { if (!res.destroyed) res.destroy() })
  })

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/'
    const qi = url.indexOf('?')
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: qi >= 0 ? url.slice(0, qi) : url,
      query: qi >= 0 ? url.slice(qi) : '',
      headers: { ...req.headers },
      body: undefined,
      rawBody: '',
      apiKey: apiKeyOf(req),
      aborted: false,
    }
    mock.requests.push(rec)

    // `request-id` on every response (§4 headers).
    const requestId = nextId('req')
    res.setHeader('request-id', requestId)
    let selfDestroyed = false
    res.on('error', () => {})
    req.on('error', () => {})
    res.on('close', () => { if (!res.writableFinished && !selfDestroyed && !closing) rec.aborted = true })
    const gone = () => res.destroyed || closing

    const sendError = (status: number, type: string, message: string, headers: Record<string, string> = {}) => {
      if (gone()) return
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(errorBody(type, message, requestId)))
    }
    const sendJson = (obj: unknown, headers: Record<string, string> = {}) => {
      if (gone()) return
      res.writeHead(200, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(obj))
    }

    const raw = await readBody(req)
    if (raw === null) return // client went away while sending the body
    rec.rawBody = raw
    let body: any
    let badJson = false
    if (raw.trim() !== '') {
      try { body = JSON.parse(raw) } catch { badJson = true }
    }
    rec.body = body

    // Routing
    const isMessages = rec.method === 'POST' && rec.path === '/v1/messages'
    const isCount = rec.method === 'POST' && rec.path === '/v1/messages/count_tokens'
    const isModels = rec.method === 'GET' && (rec.path === '/v1/models' || rec.path.startsWith('/v1/models/'))
    if (!isMessages && !isCount && !isModels) return sendError(404, 'not_found_error', `Not found: ${rec.method} ${rec.path}`)

    // Auth: a missing key is always 401; validKeys (if set) restricts accepted keys (§1.1, §4).
    if (!rec.apiKey) return sendError(401, 'authentication_error', 'x-api-key header is required')
    if (mock.validKeys && !mock.validKeys.has(rec.apiKey)) return sendError(401, 'authentication_error', 'invalid x-api-key')
    const version = req.headers['anthropic-version']
    if (typeof version !== 'string' || version === '') return sendError(400, 'invalid_request_error', 'anthropic-version: header is required')

    if (isModels) {
      const data = MOCK_MODELS.map((m) => ({ type: 'model', ...m }))
      if (rec.path === '/v1/models') {
        return sendJson({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null })
      }
      const id = decodeURIComponent(rec.path.slice('/v1/models/'.length))
      const model = data.find((m) => m.id === id)
      return model ? sendJson(model) : sendError(404, 'not_found_error', `model: ${id}`)
    }

    if (badJson) return sendError(400, 'invalid_request_error', 'There was an error parsing the body of your request: invalid JSON')
    const invalid = validateMessagesBody(body, version, isCount)
    if (invalid) return sendError(400, 'invalid_request_error', invalid)
    const betas = String(req.headers['anthropic-beta'] ?? '').split(',').map((b) => b.trim())
    const denied = denials.some(
      (d) => (d.apiKey === undefined || d.apiKey === rec.apiKey) && (d.model === undefined || d.model === body.model) && (d.beta === undefined || betas.includes(d.beta)),
    )
    if (denied) return sendError(403, 'permission_error', DEFAULT_ERROR_MESSAGE.permission_error!)

    // Scenario: per-key rule wins over the one-shot queue; the queue is consumed by /v1/messages only.
    // On count_tokens only per-key error/hang/drop rules apply.
    let scenario: Scenario | undefined = perKey.get(rec.apiKey)
    if (isCount) {
      if (scenario && scenario.kind !== 'error' && scenario.kind !== 'hang' && scenario.kind !== 'drop') scenario = undefined
    } else if (!scenario) {
      scenario = queue.shift()
    }
    scenario ??= { kind: 'reply' }

    switch (scenario.kind) {
      case 'hang':
        return // never answer; close() or the client ends the socket
      case 'drop':
        selfDestroyed = true
        req.socket.destroy()
        return
      case 'error': {
        const type = scenario.type ?? errorTypeFor(scenario.status)
        // 429 carries retry-after (§4); scenario headers may override it.
        const headers = { ...(scenario.status === 429 ? { 'retry-after': '1' } : {}), ...scenario.headers }
        if (scenario.rawBody !== undefined) {
          if (gone()) return
          const ct = scenario.rawBody.trimStart().startsWith('<') ? 'text/html' : 'text/plain'
          res.writeHead(scenario.status, { 'content-type': ct, ...headers })
          res.end(scenario.rawBody)
          return
        }
        return sendError(scenario.status, type, scenario.message ?? DEFAULT_ERROR_MESSAGE[type] ?? 'Error', headers)
      }
    }

    if (isCount) return sendJson({ input_tokens: estimateInputTokens(body) })

    const stream = body.stream === true
    const g = generate(body, scenario.kind === 'hang-after-start' ? {} : scenario, ids)

    if (scenario.kind === 'midstream-error') {
      const type = scenario.type ?? 'overloaded_error'
      const message = scenario.message ?? DEFAULT_ERROR_MESSAGE[type] ?? 'Error'
      // Without streaming there is no "mid-stream": answer with the matching HTTP error.
      if (!stream) return sendError(statusForErrorType(type), type, message)
      const n = Math.max(0, scenario.afterBlocks ?? 1)
      const events: Array<{ type: string }> = [messageStartEvent(g), { type: 'ping' }]
      g.content.slice(0, n).forEach((b, i) => events.push(...blockEvents(b, i)))
      // §3 mid-stream error: `event: error` after HTTP 200, no message_stop follows.
      events.push(errorBody(type, message, requestId))
      return writeStream(events, 0, {})
    }

    if (scenario.kind === 'hang-after-start') {
      if (!stream) { res.writeHead(200, { 'content-type': 'application/json' }); res.flushHeaders(); return }
      startStream({})
      res.write(sseFrame(messageStartEvent(g)))
      return // idle forever
    }

    // reply
    if (!stream) return sendJson(messageJson(g), scenario.headers)
    return writeStream(streamEvents(g), scenario.chunkDelayMs ?? 0, scenario.headers ?? {})

    function startStream(headers: Record<string, string>) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers })
      res.flushHeaders()
    }

    async function writeStream(events: Array<{ type: string }>, delayMs: number, headers: Record<string, string>) {
      if (gone()) return
      startStream(headers)
      for (let i = 0; i < events.length; i++) {
        if (i > 0 && delayMs > 0) await sleep(delayMs)
        if (gone()) return
        res.write(sseFrame(events[i]!)) // one write per event: each is flushed as written
      }
      res.end()
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  const mock: MockAnthropic = {
    url: `http://127.0.0.1:${port}`,
    requests: [],
    validKeys: opts?.validKeys ? new Set(opts.validKeys) : null,
    enqueue: (...s) => { queue.push(...s) },
    forKey: (apiKey, s) => { perKey.set(apiKey, s) },
    deny: (rule) => { denials.push(rule) },
    reset: () => { queue = []; perKey = new Map(); denials = []; mock.requests.length = 0 },
    close: async () => {
      closing = true
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections() // also ends hanging requests and idle keep-alive sockets
      await closed
    },
  }
  return mock
}
