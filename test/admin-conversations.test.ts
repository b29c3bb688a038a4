import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { conversationRow, requestLogRow, type ConversationRow, type RequestRecord } from '../src/record/request-record.ts'
import { ConversationStore, searchCondition } from '../src/warehouse/conversations.ts'
import { ADMIN_KEY, startTestGateway, type TestGateway } from './support/gateway.ts'
import { seeded } from './support/random.ts'

// ── Seed: ~450 requests over eight days from three tokens; ~340 carry a conversation. English prose from a
// word pool, Chinese, Japanese and Russian sentences, one unique English word, and text full of LIKE
// metacharacters. Conversations go in ten batches with merges stopped, so the table has ten parts: the
// EXPLAIN below can show the skip indexes choosing among them. ─────────────────────────────────────────

const DAY = 86_400_000
const { rand, pick, int } = seeded(31_337)

const WORDS = (
  'the a of to and in is for that with on as it by this be are from or at an was which river mountain cloud ' +
  'function return value array string object deploy server cluster query index table merge partition ' +
  'please explain summarize translate refactor improve write test bug error fix performance memory latency'
).split(' ')
const sentence = (n: number) => {
  const words = Array.from({ length: n }, () => pick(WORDS))
  words[0] = words[0]![0]!.toUpperCase() + words[0]!.slice(1)
  return words.join(' ') + '.'
}
const CHINESE = ['北京的天气今天很好。', '我喜欢吃烤鸭，但是不常吃。', '请帮我把这段代码翻译成中文。', '数据库查询太慢了，怎么优化？']
const JAPANESE = ['東京の夜景はきれいです。', 'タワーマンションに住んでいます。', 'このコードを説明してください。']

let t: TestGateway
type Who = { token_id: string; user_name: string }
const users: Who[] = []
const records: RequestRecord[] = []
const rows: ConversationRow[] = []
const now = new Date()
const todayStart = Date.parse(now.toISOString().slice(0, 10))
const special: Record<string, RequestRecord> = {}

function makeRecord(at: Date, who: Who, content: { prompt: string; completion: string } | null): RequestRecord {
  const prompt = int(20, 8000)
  const completion = int(1, 2000)
  const duration = int(200, 40_000)
  const model = pick(['claude-sonnet-4-6', 'claude-opus-4-1'])
  return {
    id: randomUUID(),
    request_at: at,
    response_at: new Date(at.getTime() + duration),
    duration_ms: duration,
    ttft_ms: rand() < 0.5 ? int(100, 3000) : null,
    token_id: who.token_id,
    user_name: who.user_name,
    account_id: 'acc_1',
    mode: 'api',
    endpoint: 'messages',
    model,
    response_model: model,
    stream: true,
    status_code: 200,
    success: true,
    error_type: '',
    error_message: '',
    stop_reason: 'end_turn',
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cache_creation_tokens: 0,
    cache_read_tokens: 0,
    upstream_request_id: `req_${int(1, 1e9)}`,
    retries: 0,
    client_ip: '10.0.0.9',
    user_agent: 'claude-cli/1.0.96',
    conversation_id: rand() < 0.5 ? `thread-${int(1, 30)}` : '',
    trace_id: '',
    span_id: '',
    request_params: {},
    content: content && {
      system_prompt: rand() < 0.5 ? 'You are a helpful assistant.' : '',
      messages_json: JSON.stringify([{ role: 'user', content: content.prompt }]),
      prompt: content.prompt,
      completion: content.completion,
      tool_calls: rand() < 0.2 ? JSON.stringify([{ id: 'toolu_1', name: 'search', input: { q: 'x' } }]) : '[]',
      tool_results: '[]',
    },
  }
}

beforeAll(async () => {
  t = await startTestGateway()
  for (const name of ['alice', 'bob', 'carol']) users.push({ token_id: (await t.mintToken({ name })).id, user_name: name })

  const at = () => {
    const d = int(0, 7)
    const span = d === 0 ? Math.max(1, now.getTime() - todayStart - 1) : DAY - 1
    return new Date(todayStart - d * DAY + Math.floor(rand() * span))
  }
  for (let i = 0; i < 440; i++) {
    const withContent = rand() < 0.75
    const prompt = [sentence(int(5, 30)), rand() < 0.15 ? pick(CHINESE) : '', rand() < 0.1 ? pick(JAPANESE) : ''].join(' ').trim()
    const completion = [sentence(int(10, 60)), sentence(int(5, 20))].join(' ')
    records.push(makeRecord(at(), pick(users), withContent ? { prompt, completion } : null))
  }
  const add = (name: string, who: Who, prompt: string, completion: string, when = at()) => {
    special[name] = makeRecord(when, who, { prompt, completion })
    records.push(special[name]!)
  }
  add('quixotic', users[0]!, 'Tell me about a QuiXotic journey across the river and the mountain.', 'It was a long trip.')
  add('chinese', users[1]!, '我们明天晚上去全聚德吃北京烤鸭，然后去看电影好不好？', '好的，北京烤鸭很好吃。')
  add('japanese', users[2]!, '週末に友達と東京タワーへ行きました。とても楽しかったです。', 'いいですね！')
  add('percent', users[0]!, "Use promo code 50%_off at C:\\Users\\o'brien\\cart today", 'Done.')
  add('percent-lookalike-1', users[1]!, 'Use promo code 50X_off at C:/Users/obrien/cart today', 'Done.')
  add('percent-lookalike-2', users[2]!, 'Use promo code 50%Xoff at C:Users today, ask O\'BRIEN', 'Done.')
  add('russian', users[1]!, 'Привет, мир! Как дела?', 'Хорошо, спасибо.')
  add('completion-only', users[2]!, 'How do plants make food?', 'Through Photosynthesis, using sunlight.')
  add('long', users[0]!, `${'长'.repeat(150)} ${'word '.repeat(40)}end`, 'short answer')
  add('doomed', users[1]!, 'this conversation mentions zanzibarian spices', 'and will be deleted')

  const client = t.gateway.services.warehouse.client
  await client.command({ query: 'SYSTEM STOP MERGES conversation_contents' })
  await client.insert({ table: 'request_logs', values: records.map(requestLogRow), format: 'JSONEachRow' })
  for (const r of records) {
    const row = conversationRow(r)
    if (row) rows.push(row)
  }
  const shuffled = [...rows].sort(() => rand() - 0.5)
  for (let i = 0; i < 10; i++) {
    const batch = shuffled.filter((_, k) => k % 10 === i)
    await client.insert({ table: 'conversation_contents', values: batch, format: 'JSONEachRow' })
  }
}, 120_000)
afterAll(() => t?.close())

// ── Expectations, computed here ───────────────────────────────────────────────────────────────────────

const deleted = new Set<string>()
const live = () => rows.filter((r) => !deleted.has(r.id))
const recordOf = (row: ConversationRow) => records.find((r) => r.id === row.request_log_id)!
const createdMs = (row: ConversationRow) => Date.parse(row.created_at.replace(' ', 'T') + 'Z')
const newestFirst = (a: ConversationRow, b: ConversationRow) => createdMs(b) - createdMs(a)
const rowOf = (name: string) => rows.find((r) => r.request_log_id === special[name]!.id)!
const previewOf = (s: string) => ([...s].length > 200 ? [...s].slice(0, 200).join('') + '…' : s)
const summary = (row: ConversationRow) => ({
  id: row.id,
  request_log_id: row.request_log_id,
  token_id: row.token_id,
  model: row.model,
  conversation_id: row.conversation_id,
  created_at: new Date(createdMs(row)).toISOString(),
  prompt_preview: previewOf(row.prompt),
  completion_preview: previewOf(row.completion),
})
const qs = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString()
const search = (params: Record<string, string | number>) => t.admin('GET', `/api/conversations/search?${qs(params)}`)
const ids = (res: { body: any }) => res.body.conversations.map((c: any) => c.id)

describe('GET /api/conversations', () => {
  it('lists newest first with previews instead of the full texts', async () => {
    const res = await t.admin('GET', '/api/conversations?limit=100')
    expect(res.status).toBe(200)
    expect(res.body.total).toBe(live().length)
    expect(res.body.page).toBe(0)
    expect(res.body.limit).toBe(100)
    const expected = [...live()].sort(newestFirst).slice(0, 100)
    expect(res.body.conversations.map((c: any) => c.created_at)).toEqual(expected.map((r) => new Date(createdMs(r)).toISOString()))
    const byId = new Map(rows.map((r) => [r.id, r]))
    for (const item of res.body.conversations) {
      expect(item).toEqual(summary(byId.get(item.id)!))
      expect(item).not.toHaveProperty('messages_json')
    }
    const defaults = await t.admin('GET', '/api/conversations')
    expect(defaults.body).toMatchObject({ page: 0, limit: 50 })
    expect(defaults.body.conversations).toHaveLength(50)
  })

  it('cuts long previews at 200 characters', async () => {
    const long = rowOf('long')
    const res = await t.admin('GET', `/api/conversations?${qs({ token_id: long.token_id, limit: 1000 })}`)
    const item = res.body.conversations.find((c: any) => c.id === long.id)
    expect([...item.prompt_preview]).toHaveLength(201)
    expect(item.prompt_preview.endsWith('…')).toBe(true)
    expect(item.completion_preview).toBe('short answer')
  })

  it('filters by token and time, and pages', async () => {
    const bob = users[1]!
    const from = new Date(todayStart - 3 * DAY).toISOString().slice(0, 10)
    const expected = live().filter((r) => r.token_id === bob.token_id && createdMs(r) >= todayStart - 3 * DAY).sort(newestFirst)
    const seen: string[] = []
    for (let page = 0; page * 25 < expected.length; page++) {
      const res = await t.admin('GET', `/api/conversations?${qs({ token_id: bob.token_id, from, page, limit: 25 })}`)
      expect(res.body).toMatchObject({ total: expected.length, page, limit: 25 })
      seen.push(...ids(res))
    }
    expect(seen).toEqual(expected.map((r) => r.id))
    const to = new Date(todayStart - 5 * DAY).toISOString().slice(0, 10)
    const older = await t.admin('GET', `/api/conversations?${qs({ to_date: to, limit: 1 })}`)
    expect(older.body.total).toBe(live().filter((r) => createdMs(r) < todayStart - 4 * DAY).length)
  })

  it('rejects bad parameters', async () => {
    for (const [query, message] of [
      ['limit=0', /limit/],
      ['page=-2', /page/],
      ['from=last-week', /from/],
      ["token_id=';--", /token_id/],
      ['search=hello', /unknown query parameter search/],
    ] as const) {
      const res = await t.admin('GET', `/api/conversations?${query}`)
      expect(res.status, query).toBe(400)
      expect(res.body.error, query).toMatch(message)
    }
  })
})

describe('GET /api/conversations/:id', () => {
  it('returns the whole conversation with its request’s model, tokens and duration', async () => {
    const row = rowOf('chinese')
    const record = recordOf(row)
    const res = await t.admin('GET', `/api/conversations/${row.id}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({
      id: row.id,
      request_log_id: row.request_log_id,
      token_id: row.token_id,
      conversation_id: row.conversation_id,
      system_prompt: row.system_prompt,
      messages_json: row.messages_json,
      prompt: row.prompt,
      completion: row.completion,
      tool_calls: row.tool_calls,
      tool_results: row.tool_results,
      created_at: record.request_at.toISOString(),
      model: record.model,
      prompt_tokens: record.prompt_tokens,
      completion_tokens: record.completion_tokens,
      total_tokens: record.total_tokens,
      duration_ms: record.duration_ms,
    })
    expect(JSON.parse(res.body.messages_json)).toEqual([{ role: 'user', content: row.prompt }])
  })

  it('404 unknown, 400 not a UUID', async () => {
    const missing = await t.admin('GET', `/api/conversations/${randomUUID()}`)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ error: 'conversation not found' })
    expect((await t.admin('GET', '/api/conversations/12345')).status).toBe(400)
  })
})

describe('GET /api/conversations/search', () => {
  it('finds a unique English word among hundreds, whatever its case, as a whole word', async () => {
    const target = rowOf('quixotic')
    for (const q of ['quixotic', 'QUIXOTIC', 'Quixotic journey', '  quixotic  ']) {
      const res = await search({ q })
      expect(res.status, q).toBe(200)
      expect(ids(res), q).toEqual([target.id])
    }
    const res = await search({ q: 'quixotic' })
    expect(res.body).toMatchObject({ query: 'quixotic', token_id: null, limit: 20 })
    expect(res.body.conversations[0]).toEqual(summary(target))
    expect(ids(await search({ q: 'quix' }))).toEqual([]) // a word matches whole words only
    expect(ids(await search({ q: 'journey quixotic' }))).toEqual([]) // the phrase, in order
  })

  it('finds a Chinese phrase inside a longer sentence, in prompt or completion', async () => {
    const res = await search({ q: '北京烤鸭' })
    expect(ids(res)).toEqual([rowOf('chinese').id])
    // 北京 alone is in other rows too; every one of them, newest first
    const beijing = live().filter((r) => r.prompt.includes('北京') || r.completion.includes('北京')).sort(newestFirst)
    expect(beijing.length).toBeGreaterThan(3)
    expect(ids(await search({ q: '北京', limit: 100 }))).toEqual(beijing.map((r) => r.id))
  })

  it('finds a Japanese phrase', async () => {
    expect(ids(await search({ q: '東京タワー' }))).toEqual([rowOf('japanese').id])
    expect(ids(await search({ q: 'タワー', limit: 100 }))).toEqual(
      live().filter((r) => r.prompt.includes('タワー')).sort(newestFirst).map((r) => r.id),
    )
  })

  it('matches % _ \' and \\ literally', async () => {
    const target = rowOf('percent')
    expect(ids(await search({ q: '50%_off' }))).toEqual([target.id])
    expect(ids(await search({ q: "C:\\Users\\o'brien" }))).toEqual([target.id])
    expect(ids(await search({ q: "code 50%_off at C:\\Users\\o'brien\\cart" }))).toEqual([target.id])
    expect(new Set(ids(await search({ q: "o'brien" })))).toEqual(new Set([target.id, rowOf('percent-lookalike-2').id]))
    expect(ids(await search({ q: '\\' }))).toEqual([target.id])
    const percent = live().filter((r) => r.prompt.includes('%') || r.completion.includes('%')).sort(newestFirst)
    expect(ids(await search({ q: '%' }))).toEqual(percent.map((r) => r.id))
  })

  it('is case-insensitive beyond ASCII, and searches completions', async () => {
    expect(ids(await search({ q: 'ПРИВЕТ, МИР' }))).toEqual([rowOf('russian').id])
    expect(ids(await search({ q: 'photosynthesis' }))).toEqual([rowOf('completion-only').id])
  })

  it('a common word: newest first, up to the limit, optionally for one token', async () => {
    const matches = (r: ConversationRow) => /(^|[^a-z])river([^a-z]|$)/i.test(r.prompt) || /(^|[^a-z])river([^a-z]|$)/i.test(r.completion)
    const all = live().filter(matches).sort(newestFirst)
    expect(all.length).toBeGreaterThan(40)
    expect(ids(await search({ q: 'river' }))).toEqual(all.slice(0, 20).map((r) => r.id))
    expect(ids(await search({ q: 'River', limit: 100 }))).toEqual(all.slice(0, 100).map((r) => r.id))
    const carol = users[2]!
    const res = await search({ q: 'river', token_id: carol.token_id, limit: 5 })
    expect(res.body).toMatchObject({ token_id: carol.token_id, limit: 5 })
    expect(ids(res)).toEqual(all.filter((r) => r.token_id === carol.token_id).slice(0, 5).map((r) => r.id))
  })

  it('rejects a missing, empty or too long q and a bad limit', async () => {
    for (const [query, message] of [
      ['', /q: is required/],
      ['q=', /q: is required/],
      ['q=%20%20', /q: is required/],
      [`q=${'a'.repeat(201)}`, /q: must be at most 200 characters/],
      ['q=x&limit=0', /limit/],
      ['q=x&limit=101', /limit/],
      ['q=x&token_id=%27', /token_id/],
    ] as const) {
      const res = await t.admin('GET', `/api/conversations/search?${query}`)
      expect(res.status, query).toBe(400)
      expect(res.body.error, query).toMatch(message)
    }
  })

  it('the skip indexes prune granules: EXPLAIN indexes = 1 of the search condition', async () => {
    const client = t.gateway.services.warehouse.client
    const explain = async (q: string) => {
      const { sql, params } = searchCondition(q)
      const rs = await client.query({ query: `EXPLAIN indexes = 1 SELECT id FROM conversation_contents WHERE ${sql}`, query_params: params, format: 'TabSeparatedRaw' })
      return rs.text()
    }
    const parts = Number((await (await client.query({ query: "SELECT count() AS n FROM system.parts WHERE database = currentDatabase() AND table = 'conversation_contents' AND active", format: 'JSONEachRow' })).json<{ n: string }>())[0]!.n)
    expect(parts).toBeGreaterThanOrEqual(10)
    // Every "Granules: selected/total" line of the plan: the primary key keeps everything (no token filter),
    // the final skip-index line keeps only the granule holding the word.
    const granules = (plan: string) => [...plan.matchAll(/Granules: (\d+)\/(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const)

    const word = await explain('quixotic')
    expect(word).toMatch(/idx_(prompt|completion)_(text|words)/)
    const [selected, total] = granules(word).at(-1)!
    expect(total).toBeGreaterThanOrEqual(10)
    expect(selected).toBe(1)

    const chinese = await explain('北京烤鸭')
    expect(chinese).toMatch(/idx_prompt_ngrams/)
    const [cSelected, cTotal] = granules(chinese).at(-1)!
    expect(cSelected).toBeLessThan(cTotal)
  })
})

describe('GET /api/conversations/export', () => {
  async function download(query: string) {
    const res = await fetch(`${t.url}/api/conversations/export?${query}`, { headers: { 'x-admin-key': ADMIN_KEY } })
    return { status: res.status, headers: res.headers, text: await res.text() }
  }

  it('JSON by default: every conversation, all columns, a dated attachment', async () => {
    const res = await download('')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename=conversations_\d{8}_\d{6}\.json$/)
    const all = JSON.parse(res.text)
    expect(all).toHaveLength(live().length)
    const byId = new Map(rows.map((r) => [r.id, r]))
    for (const c of all) {
      const row = byId.get(c.id)!
      expect(c).toEqual({ ...row, created_at: new Date(createdMs(row)).toISOString() })
    }
  })

  it('JSONL for one token and a time range', async () => {
    const alice = users[0]!
    const from = new Date(todayStart - 2 * DAY).toISOString()
    const res = await download(qs({ format: 'jsonl', token_id: alice.token_id, from }))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    expect(res.headers.get('content-disposition')).toMatch(/conversations_\d{8}_\d{6}\.jsonl$/)
    const lines = res.text.trimEnd().split('\n').map((l) => JSON.parse(l))
    const expected = live().filter((r) => r.token_id === alice.token_id && createdMs(r) >= todayStart - 2 * DAY).sort(newestFirst)
    expect(lines.map((c) => c.id)).toEqual(expected.map((r) => r.id))
  })

  it('reads in keyset chunks without repeating or skipping a row', async () => {
    const store = new ConversationStore(t.gateway.services.warehouse.client)
    const ids: string[] = []
    for await (const c of store.exportRows({}, { chunkRows: 17 })) ids.push(c.id)
    expect(ids).toEqual([...live()].sort(newestFirst).map((r) => r.id))
  })

  it('rejects other formats', async () => {
    const res = await download('format=csv')
    expect(res.status).toBe(400)
    expect(JSON.parse(res.text).error).toMatch(/format: must be one of json, jsonl/)
  })
})

describe('DELETE /api/conversations/:id', () => {
  it('deletes the content; the request log stays', async () => {
    // merges were stopped for the EXPLAIN above; a lightweight DELETE is a mutation that needs them
    await t.gateway.services.warehouse.client.command({ query: 'SYSTEM START MERGES conversation_contents' })
    const row = rowOf('doomed')
    expect(ids(await search({ q: 'zanzibarian' }))).toEqual([row.id])
    const before = (await t.admin('GET', '/api/conversations?limit=1')).body.total

    const res = await t.admin('DELETE', `/api/conversations/${row.id}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ message: 'conversation deleted successfully', id: row.id })
    deleted.add(row.id)

    expect((await t.admin('GET', `/api/conversations/${row.id}`)).status).toBe(404)
    expect(ids(await search({ q: 'zanzibarian' }))).toEqual([])
    expect((await t.admin('GET', '/api/conversations?limit=1')).body.total).toBe(before - 1)
    const log = await t.admin('GET', `/api/logs/requests/${row.request_log_id}`)
    expect(log.status).toBe(200)
    expect(log.body).not.toHaveProperty('conversation_content_id')
    // the log no longer says it has content: not the API, not a reader of the table (Grafana)
    expect(log.body.has_content).toBe(false)
    const stored = await t.rows('SELECT has_content FROM request_logs WHERE id = {id:UUID}', { id: row.request_log_id })
    expect(stored).toEqual([{ has_content: false }])
    const other = rowOf('quixotic')
    expect((await t.admin('GET', `/api/logs/requests/${other.request_log_id}`)).body.has_content).toBe(true)

    const again = await t.admin('DELETE', `/api/conversations/${row.id}`)
    expect(again.status).toBe(404)
    expect((await t.admin('DELETE', '/api/conversations/not-a-uuid')).status).toBe(400)
  })
})
