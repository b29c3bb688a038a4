import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createClient } from '@clickhouse/client'
import { Agent, fetch as undiciFetch } from 'undici'
import { conversationRow, requestLogRow, type Endpoint, type RequestRecord } from '../src/record/request-record.ts'
import { RequestLogStore } from '../src/warehouse/request-logs.ts'
import { startHttpInterface } from '../src/warehouse/embedded/http-interface.ts'
import { ADMIN_KEY, eventually, startTestGateway, type TestGateway } from './support/gateway.ts'
import { seeded } from './support/random.ts'
import { randomBytes } from 'node:crypto'
import { CLIENT_AUTH, HTTP_CREDENTIALS } from './support/embedded-http.ts'

// ── Seed: ~800 realistic requests over ten days (today included) plus 10 500 rows of one busy token ──────

const DAY = 86_400_000
const MODELS = ['claude-sonnet-4-6', 'claude-opus-4-1', 'claude-haiku-4-5']
const ACCOUNTS = ['acc_6f1c0d2e-aaaa-4bbb-8ccc-000000000001', 'acc_6f1c0d2e-aaaa-4bbb-8ccc-000000000002', 'cfg_3a9f01']
const ENDPOINTS: Endpoint[] = ['messages', 'messages', 'chat.completions', 'chat.completions', 'count_tokens', 'models']

const { rand, pick, int } = seeded(20250131)

function makeRecord(at: Date, who: { token_id: string; user_name: string }, over: Partial<RequestRecord> = {}): RequestRecord {
  const endpoint = pick(ENDPOINTS)
  const mode = rand() < 0.2 ? 'web' : 'api'
  const failure = rand() < 0.15 ? pick([[429, 'rate_limit_error'], [529, 'overloaded_error'], [500, 'api_error'], [400, 'invalid_request_error']] as const) : null
  const stream = endpoint !== 'count_tokens' && endpoint !== 'models' && rand() < 0.5
  const prompt = failure ? int(0, 3000) : int(10, 9000)
  const completion = failure || endpoint === 'count_tokens' || endpoint === 'models' ? 0 : int(1, 2000)
  const cacheRead = rand() < 0.3 ? int(0, prompt) : 0
  const duration = int(80, 45_000)
  const model = pick(MODELS)
  return {
    id: randomUUID(),
    request_at: at,
    response_at: new Date(at.getTime() + duration),
    duration_ms: duration,
    ttft_ms: stream && !failure ? int(150, Math.min(duration, 4000)) : null,
    token_id: who.token_id,
    user_name: who.user_name,
    account_id: mode === 'web' ? '' : pick(ACCOUNTS),
    mode,
    endpoint,
    model,
    response_model: failure ? '' : `${model}-20250101`,
    stream,
    status_code: failure ? failure[0] : 200,
    success: !failure,
    error_type: failure ? failure[1] : '',
    error_message: failure ? `upstream said ${failure[1]}` : '',
    stop_reason: failure ? '' : pick(['end_turn', 'max_tokens', 'tool_use']),
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cache_creation_tokens: rand() < 0.1 ? int(0, 2000) : 0,
    cache_read_tokens: cacheRead,
    upstream_request_id: failure ? '' : `req_${randomUUID().slice(0, 8)}`,
    retries: failure ? int(0, 2) : rand() < 0.05 ? 1 : 0,
    client_ip: `10.0.${int(0, 3)}.${int(1, 254)}`,
    user_agent: pick(['claude-cli/1.0.96 (external, cli)', 'OpenAI/Python 1.99.1', 'curl/8.5.0']),
    conversation_id: rand() < 0.3 ? `conv-${int(1, 40)}` : '',
    trace_id: rand() < 0.5 ? randomBytes(16).toString('hex') : '',
    span_id: '',
    request_params: {},
    content: null,
    ...over,
  }
}

/** What the API shows for a record: computed here from the record, not by the code under test. */
function expectedLog(r: RequestRecord) {
  return {
    id: r.id,
    token_id: r.token_id,
    account_id: r.account_id,
    user_name: r.user_name,
    mode: r.mode,
    model: r.model,
    stream: r.stream,
    request_at: r.request_at.toISOString(),
    response_at: r.response_at.toISOString(),
    duration_ms: r.duration_ms,
    ttft_ms: r.ttft_ms,
    prompt_tokens: r.prompt_tokens,
    completion_tokens: r.completion_tokens,
    total_tokens: r.total_tokens,
    status_code: r.status_code,
    success: r.success,
    error_message: r.error_message,
    conversation_id: r.conversation_id,
    endpoint: r.endpoint,
    response_model: r.response_model,
    error_type: r.error_type,
    stop_reason: r.stop_reason,
    cache_creation_tokens: r.cache_creation_tokens,
    cache_read_tokens: r.cache_read_tokens,
    retries: r.retries,
    client_ip: r.client_ip,
    user_agent: r.user_agent,
    trace_id: r.trace_id,
    span_id: r.span_id,
    upstream_request_id: r.upstream_request_id,
    has_content: r.content !== null,
  }
}

let t: TestGateway
let users: Array<{ token_id: string; user_name: string }>
let bulkUser: { token_id: string; user_name: string }
const records: RequestRecord[] = []
const now = new Date()
const todayStart = Date.parse(now.toISOString().slice(0, 10))
const dayOf = (d: Date) => d.toISOString().slice(0, 10)
let tricky: RequestRecord
let withContent: RequestRecord
let contentId: string

beforeAll(async () => {
  t = await startTestGateway()
  users = []
  for (const name of ['alice', 'bob', 'carol', 'Zhang Wei 张伟']) {
    const { id } = await t.mintToken({ name })
    users.push({ token_id: id, user_name: name })
  }
  bulkUser = { token_id: (await t.mintToken({ name: 'ci-bot' })).id, user_name: 'ci-bot' }

  for (let day = 9; day >= 0; day--) {
    const n = day === 0 ? 60 : int(60, 90)
    for (let i = 0; i < n; i++) {
      // today only up to now ("so far"); other days anywhere in the day
      const span = day === 0 ? Math.max(1, now.getTime() - todayStart - 1) : DAY - 1
      records.push(makeRecord(new Date(todayStart - day * DAY + Math.floor(rand() * span)), pick(users)))
    }
  }
  // A row whose texts need CSV quoting and one a spreadsheet would run as a formula.
  tricky = makeRecord(new Date(todayStart - 3 * DAY + 1234), users[0]!, {
    success: false,
    status_code: 400,
    error_type: 'invalid_request_error',
    error_message: 'messages: "role" must be user, assistant\nline two',
    user_agent: '=HYPERLINK("http://evil")',
    ttft_ms: null,
  })
  records.push(tricky)
  withContent = makeRecord(new Date(todayStart - 2 * DAY + 5678), users[1]!, {
    content: { system_prompt: 'be brief', messages_json: '[{"role":"user","content":"hi"}]', prompt: 'hi', completion: 'hello', tool_calls: '[]', tool_results: '[]' },
  })
  records.push(withContent)
  // The busy CI token: more rows than the Go ccproxy's 10 000-row export cap, twenty days ago.
  for (let i = 0; i < 10_500; i++) records.push(makeRecord(new Date(todayStart - 20 * DAY + i * 7_000), bulkUser, { endpoint: 'count_tokens' }))

  const client = t.gateway.services.warehouse.client
  for (let i = 0; i < records.length; i += 2000) {
    await client.insert({ table: 'request_logs', values: records.slice(i, i + 2000).map(requestLogRow), format: 'JSONEachRow' })
  }
  const row = conversationRow(withContent)!
  contentId = row.id
  await client.insert({ table: 'conversation_contents', values: [row], format: 'JSONEachRow' })
}, 120_000)
afterAll(() => t?.close())

// Newest first, as the API's default.
const byNewest = (a: RequestRecord, b: RequestRecord) => b.request_at.getTime() - a.request_at.getTime()
const qs = (params: Record<string, string | number | boolean>) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()

async function allPages(params: Record<string, string | number | boolean>): Promise<any[]> {
  const out: any[] = []
  for (let page = 0; ; page++) {
    const res = await t.admin('GET', `/api/logs/requests?${qs({ ...params, page, limit: 1000 })}`)
    expect(res.status).toBe(200)
    out.push(...res.body.logs)
    if (res.body.logs.length < 1000) return out
  }
}

describe('GET /api/logs/requests', () => {
  it('lists newest first, 50 by default, page 0, with the total and every field of the log', async () => {
    const res = await t.admin('GET', '/api/logs/requests')
    expect(res.status).toBe(200)
    expect(res.body.total).toBe(records.length)
    expect(res.body.page).toBe(0)
    expect(res.body.limit).toBe(50)
    expect(res.body.logs).toHaveLength(50)
    const newest = [...records].sort(byNewest).slice(0, 50)
    expect(res.body.logs.map((l: any) => l.request_at)).toEqual(newest.map((r) => r.request_at.toISOString()))
    const byId = new Map(records.map((r) => [r.id, r]))
    for (const log of res.body.logs) expect(log).toEqual(expectedLog(byId.get(log.id)!))
  })

  it('filters by each field, alone and combined', async () => {
    const [alice, bob] = users
    const cases: Array<[Record<string, string | number | boolean>, (r: RequestRecord) => boolean]> = [
      [{ token_id: alice!.token_id }, (r) => r.token_id === alice!.token_id],
      [{ account_id: ACCOUNTS[2]! }, (r) => r.account_id === ACCOUNTS[2]],
      [{ user_name: 'Zhang Wei 张伟' }, (r) => r.user_name === 'Zhang Wei 张伟'],
      [{ mode: 'web' }, (r) => r.mode === 'web'],
      [{ model: 'claude-opus-4-1' }, (r) => r.model === 'claude-opus-4-1'],
      [{ endpoint: 'chat.completions' }, (r) => r.endpoint === 'chat.completions'],
      [{ success: false }, (r) => !r.success],
      [{ success: 'true' }, (r) => r.success],
      [{ status_code: 529 }, (r) => r.status_code === 529],
      [
        { token_id: bob!.token_id, success: true, mode: 'api', model: 'claude-sonnet-4-6' },
        (r) => r.token_id === bob!.token_id && r.success && r.mode === 'api' && r.model === 'claude-sonnet-4-6',
      ],
    ]
    for (const [params, match] of cases) {
      const expected = records.filter(match)
      expect(expected.length, JSON.stringify(params)).toBeGreaterThan(0)
      const res = await t.admin('GET', `/api/logs/requests?${qs({ ...params, limit: 5 })}`)
      expect(res.status, JSON.stringify(params)).toBe(200)
      expect(res.body.total, JSON.stringify(params)).toBe(expected.length)
      const all = await allPages(params)
      expect(new Set(all.map((l) => l.id))).toEqual(new Set(expected.map((r) => r.id)))
    }
  })

  it('takes RFC 3339 times and whole days (from/to and the Go names from_date/to_date)', async () => {
    const d3 = dayOf(new Date(todayStart - 3 * DAY))
    const d1 = dayOf(new Date(todayStart - DAY))
    const inDays = (from: number, before: number) => records.filter((r) => r.request_at.getTime() >= from && r.request_at.getTime() < before)

    // date-only `to` includes the whole day
    let res = await t.admin('GET', `/api/logs/requests?${qs({ from: d3, to: d1, limit: 1 })}`)
    expect(res.body.total).toBe(inDays(todayStart - 3 * DAY, todayStart).length)
    res = await t.admin('GET', `/api/logs/requests?${qs({ from_date: d3, to_date: d3, limit: 1 })}`)
    expect(res.body.total).toBe(inDays(todayStart - 3 * DAY, todayStart - 2 * DAY).length)

    // RFC 3339, with an offset: to is inclusive to the millisecond
    const pivot = [...records].sort(byNewest)[100]!
    const from = new Date(pivot.request_at.getTime() - 6 * 3_600_000)
    const fromText = from.toISOString().replace('Z', '+00:00')
    const toText = pivot.request_at.toISOString()
    res = await t.admin('GET', `/api/logs/requests?${qs({ from: fromText, to: toText, limit: 1 })}`)
    expect(res.status).toBe(200)
    expect(res.body.total).toBe(inDays(from.getTime(), pivot.request_at.getTime() + 1).length)
    // the same instant written in +02:00, and with the '+' left unencoded (it arrives as a space)
    const plus2 = new Date(from.getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00').replace(/\.\d+/, '')
    const fromSecond = new Date(Math.floor(from.getTime() / 1000) * 1000)
    res = await t.admin('GET', `/api/logs/requests?from=${plus2}&to=${toText}&limit=1`)
    expect(res.status).toBe(200)
    expect(res.body.total).toBe(inDays(fromSecond.getTime(), pivot.request_at.getTime() + 1).length)
  })

  it('sorts by duration_ms or total_tokens, either way', async () => {
    for (const [sort, key] of [['duration_ms', 'duration_ms'], ['total_tokens', 'total_tokens']] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const params = { token_id: users[2]!.token_id, sort, order }
        const all = await allPages(params)
        const expected = records.filter((r) => r.token_id === users[2]!.token_id).map((r) => r[key]).sort((a, b) => (order === 'asc' ? a - b : b - a))
        expect(all.map((l) => l[key])).toEqual(expected)
      }
    }
    const asc = await t.admin('GET', `/api/logs/requests?${qs({ order: 'asc', limit: 3 })}`)
    expect(asc.body.logs.map((l: any) => l.request_at)).toEqual([...records].sort(byNewest).reverse().slice(0, 3).map((r) => r.request_at.toISOString()))
  })

  it('pages without overlap or gaps and echoes the effective page and limit', async () => {
    const params = { token_id: users[0]!.token_id }
    const expected = records.filter((r) => r.token_id === users[0]!.token_id)
    const seen: string[] = []
    for (let page = 0; page * 37 < expected.length + 37; page++) {
      const res = await t.admin('GET', `/api/logs/requests?${qs({ ...params, page, limit: 37 })}`)
      expect(res.body).toMatchObject({ page, limit: 37, total: expected.length })
      seen.push(...res.body.logs.map((l: any) => l.id))
    }
    expect(seen).toHaveLength(expected.length)
    expect(new Set(seen)).toEqual(new Set(expected.map((r) => r.id)))
    const last = await t.admin('GET', `/api/logs/requests?${qs({ ...params, page: 1000, limit: 1000 })}`)
    expect(last.body).toMatchObject({ logs: [], total: expected.length, page: 1000, limit: 1000 })
  })

  it('rejects bad input with a 400 that names the parameter', async () => {
    const bad: Array<[string, RegExp]> = [
      ['limit=0', /limit/],
      ['limit=1001', /limit/],
      ['limit=ten', /limit/],
      ['page=-1', /page/],
      ['page=1.5', /page/],
      ['mode=desktop', /mode: must be one of api, web/],
      ['endpoint=embeddings', /endpoint/],
      ['success=maybe', /success: must be true or false/],
      ['status_code=700', /status_code/],
      ['from=2025-02-30', /from/],
      ['from=yesterday', /from/],
      ['to=2025-01-01T25:00:00Z', /to/],
      ['from=2025-01-02&to=2025-01-01', /from must not be after to/],
      ['from=2025-01-01&from_date=2025-01-01', /from_date/],
      ['sort=request_at;DROP TABLE request_logs', /sort: must be one of request_at, duration_ms, total_tokens/],
      ['sort=id', /sort/],
      ['order=sideways', /order: must be asc or desc/],
      ["token_id=' OR 1=1 --", /token_id: must be an id/],
      ['model=x%27)%20UNION%20SELECT%201--', /model: must be an id/],
      ['token_id=a&token_id=b', /token_id: must be given once/],
      ['tokenid=abc', /unknown query parameter tokenid/],
    ]
    for (const [query, message] of bad) {
      const res = await t.admin('GET', `/api/logs/requests?${query.replace(/ /g, '%20').replace(/;/g, '%3B')}`)
      expect(res.status, query).toBe(400)
      expect(res.body.error, query).toMatch(message)
    }
    // a value that is free text is bound, never spliced: it just matches nothing
    const res = await t.admin('GET', `/api/logs/requests?${qs({ user_name: "' OR ''='" })}`)
    expect(res.status).toBe(200)
    expect(res.body.total).toBe(0)
    // order is case-insensitive; empty values are absent
    const ok = await t.admin('GET', '/api/logs/requests?order=DESC&token_id=&limit=1')
    expect(ok.status).toBe(200)
    expect(ok.body.total).toBe(records.length)
  })

  it('needs the admin key', async () => {
    const res = await fetch(`${t.url}/api/logs/requests`)
    expect(res.status).toBe(401)
  })
})

describe('GET /api/logs/requests/:id', () => {
  it('returns one log, with conversation_content_id when its content is stored', async () => {
    const plain = await t.admin('GET', `/api/logs/requests/${tricky.id}`)
    expect(plain.status).toBe(200)
    expect(plain.body).toEqual(expectedLog(tricky))

    const rich = await t.admin('GET', `/api/logs/requests/${withContent.id.toUpperCase()}`)
    expect(rich.status).toBe(200)
    expect(rich.body).toEqual({ ...expectedLog(withContent), conversation_content_id: contentId })
  })

  it('404 for an unknown id, 400 for something that is not a UUID', async () => {
    const missing = await t.admin('GET', `/api/logs/requests/${randomUUID()}`)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ error: 'request log not found' })
    const bad = await t.admin('GET', "/api/logs/requests/1'%20OR%20'1'='1")
    expect(bad.status).toBe(400)
    expect(bad.body.error).toMatch(/id must be a UUID/)
  })
})

// ── Exports ──────────────────────────────────────────────────────────────────────────────────────────

async function download(path: string): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(t.url + path, { headers: { 'x-admin-key': ADMIN_KEY } })
  return { status: res.status, headers: res.headers, text: await res.text() }
}

/** RFC 4180 CSV, written here to read the export independently. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++
      else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') row.push(field), (field = '')
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '')
    else if (c !== '\r') field += c
  }
  if (field || row.length) row.push(field), rows.push(row)
  return rows
}

describe('GET /api/logs/requests/export', () => {
  it('CSV by default: a header row, every matching row, a dated attachment name', async () => {
    const res = await download(`/api/logs/requests/export?${qs({ token_id: users[0]!.token_id })}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=request_logs_\d{8}_\d{6}\.csv$/)
    const rows = parseCsv(res.text)
    const [header, ...data] = rows
    expect(header!.slice(0, 18)).toEqual([
      'ID', 'TokenID', 'AccountID', 'UserName', 'Mode', 'Model', 'Stream', 'RequestAt', 'ResponseAt', 'DurationMs', 'TTFTMs',
      'PromptTokens', 'CompletionTokens', 'TotalTokens', 'StatusCode', 'Success', 'ErrorMessage', 'ConversationID',
    ])
    const expected = records.filter((r) => r.token_id === users[0]!.token_id).sort(byNewest)
    expect(data.map((r) => r[0])).toEqual(expected.map((r) => r.id))
    const col = (name: string) => header!.indexOf(name)
    const row = data.find((r) => r[0] === tricky.id)!
    expect(row[col('ErrorMessage')]).toBe(tricky.error_message)
    expect(row[col('UserAgent')]).toBe(`'${tricky.user_agent}`)
    expect(row[col('TTFTMs')]).toBe('')
    expect(row[col('Success')]).toBe('false')
    expect(row[col('RequestAt')]).toBe(tricky.request_at.toISOString())
    expect(Number(row[col('TotalTokens')])).toBe(tricky.total_tokens)
  })

  it('JSON is one valid array of every matching row — past the Go 10 000-row cap — in the requested order', async () => {
    const res = await download(`/api/logs/requests/export?${qs({ format: 'json', token_id: bulkUser.token_id, sort: 'duration_ms', order: 'asc' })}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.headers.get('content-disposition')).toMatch(/filename=request_logs_\d{8}_\d{6}\.json$/)
    const logs = JSON.parse(res.text)
    const expected = records.filter((r) => r.token_id === bulkUser.token_id)
    expect(expected.length).toBe(10_500)
    expect(logs).toHaveLength(10_500)
    expect(logs.map((l: any) => l.duration_ms)).toEqual(expected.map((r) => r.duration_ms).sort((a, b) => a - b))
    const byId = new Map(expected.map((r) => [r.id, r]))
    for (const log of logs.slice(0, 50)) expect(log).toEqual(expectedLog(byId.get(log.id)!))

    const everything = JSON.parse((await download('/api/logs/requests/export?format=json')).text)
    expect(everything).toHaveLength(records.length)
    const none = await download(`/api/logs/requests/export?${qs({ format: 'json', user_name: 'nobody' })}`)
    expect(JSON.parse(none.text)).toEqual([])
  })

  it('JSONL is one log per line', async () => {
    const res = await download(`/api/logs/requests/export?${qs({ format: 'jsonl', success: false, mode: 'api' })}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    expect(res.headers.get('content-disposition')).toMatch(/\.jsonl$/)
    const lines = res.text.split('\n')
    expect(lines.pop()).toBe('')
    const expected = records.filter((r) => !r.success && r.mode === 'api').sort(byNewest)
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(expected.map((r) => r.id))
  })

  it('rejects unknown formats and parameters', async () => {
    const xml = await download('/api/logs/requests/export?format=xml')
    expect(xml.status).toBe(400)
    expect(JSON.parse(xml.text).error).toMatch(/format: must be one of csv, json, jsonl/)
    const paged = await download('/api/logs/requests/export?limit=10')
    expect(paged.status).toBe(400)
    expect(JSON.parse(paged.text).error).toMatch(/unknown query parameter limit/)
  })

  it('a client that goes away mid-download stops the export; the gateway carries on', async () => {
    // A connection of its own: an aborted download on the shared keep-alive pool leaves undici's next
    // connection looking busy to the server, which then waits out the shutdown timeout when the gateway closes.
    // the admin API's own lane
    const client = t.gateway.services.warehouse.analytics
    const query = client.query.bind(client)
    const signals: AbortSignal[] = []
    client.query = ((params: Parameters<typeof query>[0]) => {
      if (params.abort_signal) signals.push(params.abort_signal)
      return query(params)
    }) as typeof client.query
    onTestFinished(() => {
      client.query = query
    })

    // a download read to the end leaves its query alone
    expect((await download(`/api/logs/requests/export?${qs({ format: 'jsonl', token_id: users[0]!.token_id })}`)).status).toBe(200)
    expect(signals).toHaveLength(1)
    expect(signals[0]!.aborted).toBe(false)

    const dispatcher = new Agent()
    const controller = new AbortController()
    const res = await undiciFetch(`${t.url}/api/logs/requests/export?format=json`, {
      headers: { 'x-admin-key': ADMIN_KEY },
      signal: controller.signal,
      dispatcher,
    })
    const reader = res.body!.getReader()
    const first = await reader.read()
    expect(first.done).toBe(false)
    controller.abort()
    await reader.read().catch(() => undefined)
    await dispatcher.close().catch(() => undefined)
    // the query behind the abandoned download was aborted
    expect(signals).toHaveLength(2)
    await eventually(() => expect(signals[1]!.aborted).toBe(true))
    const after = await t.admin('GET', '/api/logs/requests?limit=1')
    expect(after.status).toBe(200)
    expect(after.body.total).toBe(records.length)
  })

  it('the store reads in keyset chunks that neither repeat nor skip a row, ties included', async () => {
    const store = new RequestLogStore(t.gateway.services.warehouse.client)
    const collect = async (filter: Parameters<typeof store.exportRows>[0], sort: Parameters<typeof store.exportRows>[1], chunkRows?: number) => {
      const out: Array<{ id: string; duration_ms: number; total_tokens: number; request_at: string }> = []
      for await (const log of store.exportRows(filter, sort, chunkRows ? { chunkRows } : {})) out.push(log)
      return out
    }
    const bulk = records.filter((r) => r.token_id === bulkUser.token_id)
    // durations repeat a lot among 10 500 rows: chunk edges fall inside runs of equal values
    expect(new Set(bulk.map((r) => r.duration_ms)).size).toBeLessThan(bulk.length)
    for (const sort of [{ by: 'duration_ms', order: 'asc' }, { by: 'total_tokens', order: 'desc' }, { by: 'request_at', order: 'desc' }] as const) {
      const whole = await collect({ token_id: bulkUser.token_id }, sort)
      const chunked = await collect({ token_id: bulkUser.token_id }, sort, 777)
      expect(chunked.map((l) => l.id)).toEqual(whole.map((l) => l.id))
      expect(new Set(chunked.map((l) => l.id)).size).toBe(bulk.length)
      const key = sort.by
      const values = bulk.map((r) => (key === 'request_at' ? r.request_at.toISOString() : r[key]))
      expect(chunked.map((l) => l[key])).toEqual([...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0) * (sort.order === 'asc' ? 1 : -1)))
    }
    const everything = await collect({ success: false }, { by: 'request_at', order: 'asc' }, 50)
    expect(everything.map((l) => l.id)).toEqual(
      records.filter((r) => !r.success).sort((a, b) => a.request_at.getTime() - b.request_at.getTime()).map((r) => r.id),
    )
  })

  it('the store streams over ClickHouse HTTP and stops the query when the reader stops', async () => {
    const engine = t.gateway.services.warehouse.engine!
    const http = await startHttpInterface(engine, { port: 0, readonly: true, ...HTTP_CREDENTIALS })
    const client = createClient({ url: http.url, database: t.gateway.config.clickhouse.database, ...CLIENT_AUTH })
    try {
      const store = new RequestLogStore(client)
      let n = 0
      for await (const log of store.exportRows({ token_id: bulkUser.token_id }, { by: 'request_at', order: 'desc' })) {
        expect(log.token_id).toBe(bulkUser.token_id)
        if (++n === 25) break
      }
      expect(n).toBe(25)
      // the connection is still good for the next query
      let all = 0
      for await (const _ of store.exportRows({ token_id: bulkUser.token_id }, { by: 'request_at', order: 'asc' })) all++
      expect(all).toBe(10_500)
    } finally {
      await client.close()
      await http.close()
    }
  })
})
