import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import OpenAI from 'openai'
import Anthropic from '@anthropic-ai/sdk'
import { startTestGateway, type TestGateway } from './support/gateway.ts'

// The admin API the web app adds (GET /api/stats/usage; the stream filter and more sort columns of the
// request log; search, model filter and paging together on GET /api/conversations), on traffic sent through
// the gateway with the real SDKs. Expected values are computed from the request_logs rows themselves.

let t: TestGateway
let alice: { token: string; id: string }
let bob: { token: string; id: string }
const SONNET = 'claude-sonnet-4-6'
const HAIKU = 'claude-haiku-4-5-20251001'
let rows: any[]

const anthropic = (token: string) => new Anthropic({ baseURL: t.url, apiKey: token, maxRetries: 0 })
const openai = (token: string) => new OpenAI({ baseURL: `${t.url}/v1`, apiKey: token, maxRetries: 0 })

beforeAll(async () => {
  t = await startTestGateway({ logging: { flush_interval: '100ms' } })
  alice = await t.mintToken({ name: 'alice' })
  bob = await t.mintToken({ name: 'bob' })
  await t.admin('PUT', `/api/token/${alice.id}/settings`, { enable_conversation_logging: true })

  await anthropic(alice.token).messages.create({ model: SONNET, max_tokens: 50, system: 'You are terse.', messages: [{ role: 'user', content: 'the quixotic journey begins at dawn' }] })
  const stream = anthropic(alice.token).messages.stream({ model: HAIKU, max_tokens: 50, messages: [{ role: 'user', content: '请帮我总结北京的天气 today' }] })
  await stream.finalMessage()
  await openai(alice.token).chat.completions.create({ model: SONNET, messages: [{ role: 'user', content: 'hello there general kenobi' }] })
  await openai(alice.token).chat.completions.create({ model: HAIKU, messages: [{ role: 'user', content: 'a quixotic second thought' }] })
  const chunks = await openai(bob.token).chat.completions.create({ model: HAIKU, stream: true, messages: [{ role: 'user', content: 'bob streams words' }] })
  for await (const _ of chunks) void _
  t.upstream.enqueue({ kind: 'error', status: 400, message: 'max_tokens: too large' })
  await anthropic(bob.token)
    .messages.create({ model: SONNET, max_tokens: 50, messages: [{ role: 'user', content: 'this one fails' }] })
    .then(
      () => expect.unreachable('the upstream refused it'),
      () => {},
    )
  rows = await t.rows(
    `SELECT toString(id) AS id, token_id, account_id, model, stream, success, status_code, prompt_tokens, completion_tokens, total_tokens,
            cache_creation_tokens, cache_read_tokens, toUnixTimestamp(request_at) AS at, toString(toDate(request_at)) AS day FROM request_logs`,
  )
  expect(rows).toHaveLength(6)
})
afterAll(() => t?.close())

const sum = (of: any[], key: string) => of.reduce((n, r) => n + Number(r[key]), 0)
const today = () => new Date().toISOString().slice(0, 10)
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10)

function expectedStats(of: any[]) {
  return {
    request_count: of.length,
    success_count: of.filter((r) => r.success).length,
    error_count: of.filter((r) => !r.success).length,
    total_prompt_tokens: sum(of, 'prompt_tokens'),
    total_completion_tokens: sum(of, 'completion_tokens'),
    total_tokens: sum(of, 'total_tokens'),
    total_cache_creation_tokens: sum(of, 'cache_creation_tokens'),
    total_cache_read_tokens: sum(of, 'cache_read_tokens'),
  }
}

function groups(key: string, of = rows): Map<string, any[]> {
  const by = new Map<string, any[]>()
  for (const r of of) by.set(String(r[key]), [...(by.get(String(r[key])) ?? []), r])
  return by
}

describe('GET /api/stats/usage', () => {
  it('totals, tables by model, token and account, from the same traffic', async () => {
    const day = rows[0].day
    expect(rows.every((r) => r.day === day)).toBe(true)
    const res = await t.admin('GET', `/api/stats/usage?from=${day}&to=${day}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ from_date: day, to_date: day, granularity: 'day' })
    expect(res.body.totals).toMatchObject(expectedStats(rows))
    expect(res.body.totals.success_rate).toBeCloseTo((100 * 5) / 6, 1)

    const byModel = groups('model')
    expect(res.body.by_model.map((m: any) => m.model).sort()).toEqual([...byModel.keys()].sort())
    for (const m of res.body.by_model) expect(m, m.model).toMatchObject(expectedStats(byModel.get(m.model)!))

    const byToken = groups('token_id')
    const names: Record<string, string> = { [alice.id]: 'alice', [bob.id]: 'bob' }
    expect(res.body.by_token.map((r: any) => r.token_id)).toEqual([alice.id, bob.id]) // most requests first
    for (const r of res.body.by_token) expect(r).toMatchObject({ name: names[r.token_id], ...expectedStats(byToken.get(r.token_id)!) })

    const accounts = (await t.admin('GET', '/api/account/list')).body as Array<{ id: string; name: string }>
    const byAccount = groups('account_id')
    expect(res.body.by_account.map((a: any) => a.account_id).sort()).toEqual([...byAccount.keys()].sort())
    for (const a of res.body.by_account) {
      expect(a).toMatchObject({ name: accounts.find((x) => x.id === a.account_id)?.name ?? '', ...expectedStats(byAccount.get(a.account_id)!) })
    }
    expect(res.body.by_account.some((a: any) => a.name !== '')).toBe(true)
    // each table is sorted by requests
    for (const table of ['by_model', 'by_token', 'by_account']) {
      const counts = res.body[table].map((r: any) => r.request_count)
      expect(counts, table).toEqual([...counts].sort((a, b) => b - a))
    }
  })

  it('a day trend has every day of the range, ascending, zeros where nothing happened', async () => {
    const res = await t.admin('GET', '/api/stats/usage?days=7')
    expect(res.status).toBe(200)
    const days = Array.from({ length: 7 }, (_, i) => addDays(today(), i - 6))
    expect(res.body.trend.map((b: any) => b.bucket)).toEqual(days)
    const byDay = groups('day')
    for (const b of res.body.trend) {
      const of = byDay.get(b.bucket) ?? []
      expect(b, b.bucket).toEqual({
        bucket: b.bucket,
        request_count: of.length,
        success_count: of.filter((r) => r.success).length,
        error_count: of.filter((r) => !r.success).length,
        prompt_tokens: sum(of, 'prompt_tokens'),
        completion_tokens: sum(of, 'completion_tokens'),
        cache_creation_tokens: sum(of, 'cache_creation_tokens'),
        cache_read_tokens: sum(of, 'cache_read_tokens'),
        total_tokens: sum(of, 'total_tokens'),
      })
    }
    expect(sum(res.body.trend, 'request_count')).toBe(6)
  })

  it('an hour trend has 24 points a day, read from request_logs', async () => {
    const day = rows[0].day
    const res = await t.admin('GET', `/api/stats/usage?from=${day}&to=${day}&granularity=hour`)
    expect(res.status).toBe(200)
    expect(res.body.granularity).toBe('hour')
    expect(res.body.trend).toHaveLength(24)
    expect(res.body.trend[0].bucket).toBe(`${day}T00:00:00.000Z`)
    expect(res.body.trend[23].bucket).toBe(`${day}T23:00:00.000Z`)
    const hourOf = (r: any) => new Date(Math.floor(Number(r.at) / 3600) * 3600_000).toISOString()
    const byHour = new Map<string, any[]>()
    for (const r of rows) byHour.set(hourOf(r), [...(byHour.get(hourOf(r)) ?? []), r])
    for (const b of res.body.trend) {
      const of = byHour.get(b.bucket) ?? []
      expect(b.request_count, b.bucket).toBe(of.length)
      expect(b.total_tokens, b.bucket).toBe(sum(of, 'total_tokens'))
      expect(b.error_count, b.bucket).toBe(of.filter((r) => !r.success).length)
    }
    // the tables do not depend on the granularity
    const daily = await t.admin('GET', `/api/stats/usage?from=${day}&to=${day}`)
    expect(res.body.totals).toEqual(daily.body.totals)
  })

  it('narrows everything to a token, an account or a model', async () => {
    const day = rows[0].day
    const mine = await t.admin('GET', `/api/stats/usage?from=${day}&to=${day}&token_id=${alice.id}&granularity=hour`)
    const aliceRows = rows.filter((r) => r.token_id === alice.id)
    expect(mine.body.totals).toMatchObject(expectedStats(aliceRows))
    expect(mine.body.by_token.map((r: any) => r.token_id)).toEqual([alice.id])
    expect(sum(mine.body.trend, 'request_count')).toBe(aliceRows.length)

    const haiku = await t.admin('GET', `/api/stats/usage?from=${day}&to=${day}&model=${HAIKU}`)
    expect(haiku.body.totals).toMatchObject(expectedStats(rows.filter((r) => r.model === HAIKU)))
    expect(haiku.body.by_model.map((m: any) => m.model)).toEqual([HAIKU])

    const account = rows.find((r) => r.account_id !== '')!.account_id
    const one = await t.admin('GET', `/api/stats/usage?from=${day}&to=${day}&account_id=${account}&token_id=${bob.id}`)
    expect(one.body.totals).toMatchObject(expectedStats(rows.filter((r) => r.account_id === account && r.token_id === bob.id)))

    const nobody = await t.admin('GET', `/api/stats/usage?days=30&token_id=no-such-token`)
    expect(nobody.status).toBe(200)
    expect(nobody.body.totals.request_count).toBe(0)
    expect(nobody.body.by_token).toEqual([])
    expect(nobody.body.trend).toHaveLength(30)
  })

  it('refuses what it cannot answer well, naming the parameter', async () => {
    for (const [query, message] of [
      ['foo=1', /unknown query parameter foo/],
      ['granularity=minute', /granularity: must be one of day, hour/],
      ['granularity=hour&days=32', /granularity=hour covers at most 31 days/],
      ['from=2020-01-01&to=2026-01-01', /at most 366 days/],
      ['days=0', /days: must be an integer between 1 and 366/],
      ['days=7&from=2026-01-01', /give days or from_date\/to_date, not both/],
      ['from=2026-02-30', /from: must be a date YYYY-MM-DD/],
      ['token_id=a%27b', /token_id: must be an id/],
      ['granularity=day&granularity=hour', /granularity: must be given once/],
    ] as const) {
      const res = await t.admin('GET', `/api/stats/usage?${query}`)
      expect(res.status, query).toBe(400)
      expect(res.body.error, query).toMatch(message)
    }
    expect((await t.admin('GET', '/api/stats/usage?granularity=hour&days=31')).body.trend).toHaveLength(31 * 24)
  })
})

describe('GET /api/logs/requests: stream filter and more sort columns', () => {
  it('filters by stream', async () => {
    for (const stream of [true, false]) {
      const res = await t.admin('GET', `/api/logs/requests?stream=${stream}`)
      expect(res.status).toBe(200)
      const expected = rows.filter((r) => r.stream === stream).map((r) => r.id)
      expect(expected.length).toBeGreaterThan(0)
      expect(res.body.total).toBe(expected.length)
      expect(res.body.logs.map((l: any) => l.id).sort()).toEqual(expected.sort())
      expect(res.body.logs.every((l: any) => l.stream === stream)).toBe(true)
    }
    const combined = await t.admin('GET', `/api/logs/requests?stream=true&token_id=${bob.id}`)
    expect(combined.body.logs.map((l: any) => l.id)).toEqual(rows.filter((r) => r.stream && r.token_id === bob.id).map((r) => r.id))
    expect((await t.admin('GET', '/api/logs/requests?stream=maybe')).body.error).toMatch(/stream: must be true or false/)
  })

  it('sorts by model, status code, prompt and completion tokens, both ways, and exports in the same order', async () => {
    for (const [sort, key] of [
      ['model', 'model'],
      ['status_code', 'status_code'],
      ['prompt_tokens', 'prompt_tokens'],
      ['completion_tokens', 'completion_tokens'],
    ] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const res = await t.admin('GET', `/api/logs/requests?sort=${sort}&order=${order}`)
        expect(res.status).toBe(200)
        const values = res.body.logs.map((l: any) => l[key])
        const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        expect(values, `${sort} ${order}`).toEqual(order === 'asc' ? sorted : sorted.reverse())
        expect(res.body.total).toBe(6)
        // paging one row at a time sees the same order
        const paged: string[] = []
        for (let page = 0; page < 6; page++) paged.push((await t.admin('GET', `/api/logs/requests?sort=${sort}&order=${order}&limit=1&page=${page}`)).body.logs[0].id)
        expect(paged, `${sort} ${order}`).toEqual(res.body.logs.map((l: any) => l.id))
        // the export's keyset chunks (one row each) follow the same order
        const exported: string[] = []
        for await (const log of t.gateway.services.warehouse.requestLogs.exportRows({}, { by: sort, order }, { chunkRows: 1 })) exported.push(log.id)
        expect(exported, `${sort} ${order}`).toEqual(paged)
      }
    }
    expect((await t.admin('GET', '/api/logs/requests?sort=user_agent')).status).toBe(400)
  })

  it('the export takes the stream filter', async () => {
    const res = await fetch(`${t.url}/api/logs/requests/export?format=jsonl&stream=true&sort=model&order=asc`, { headers: { 'x-admin-key': (await import('./support/gateway.ts')).ADMIN_KEY } })
    expect(res.status).toBe(200)
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l))
    const list = await t.admin('GET', '/api/logs/requests?stream=true&sort=model&order=asc')
    expect(lines.map((l) => l.id)).toEqual(list.body.logs.map((l: any) => l.id))
  })
})

describe('GET /api/conversations: search with filters and paging', () => {
  it('lists alice’s conversations (bob did not opt in), filtered by model', async () => {
    const all = await t.admin('GET', '/api/conversations')
    expect(all.status).toBe(200)
    expect(all.body).toMatchObject({ total: 4, page: 0, limit: 50, query: null })
    expect(all.body.conversations.every((c: any) => c.token_id === alice.id)).toBe(true)
    const haiku = await t.admin('GET', `/api/conversations?model=${HAIKU}`)
    expect(haiku.body.total).toBe(2)
    expect(haiku.body.conversations.every((c: any) => c.model === HAIKU)).toBe(true)
  })

  it('searches on the server, combined with token, model and date filters', async () => {
    const word = await t.admin('GET', '/api/conversations?q=quixotic')
    expect(word.body).toMatchObject({ total: 2, query: 'quixotic' })
    expect(word.body.conversations.map((c: any) => c.prompt_preview).sort()).toEqual(['a quixotic second thought', 'the quixotic journey begins at dawn'])

    const withModel = await t.admin('GET', `/api/conversations?q=quixotic&model=${SONNET}`)
    expect(withModel.body.total).toBe(1)
    expect(withModel.body.conversations[0].prompt_preview).toBe('the quixotic journey begins at dawn')

    const chinese = await t.admin('GET', `/api/conversations?q=${encodeURIComponent('北京')}&token_id=${alice.id}`)
    expect(chinese.body.total).toBe(1)
    expect(chinese.body.conversations[0].model).toBe(HAIKU)
    expect(chinese.body.conversations[0].prompt_preview).toContain('北京')

    expect((await t.admin('GET', `/api/conversations?q=quixotic&token_id=${bob.id}`)).body.total).toBe(0)
    expect((await t.admin('GET', '/api/conversations?q=quixotic&to=2000-01-01')).body.total).toBe(0)
    expect((await t.admin('GET', `/api/conversations?q=quixotic&from=${rows[0].day}`)).body.total).toBe(2)
    // a word matches whole words only, as /search does
    expect((await t.admin('GET', '/api/conversations?q=quix')).body.total).toBe(0)
  })

  it('pages through the matches, newest first, with the total of all matches', async () => {
    const first = await t.admin('GET', '/api/conversations?q=quixotic&limit=1&page=0')
    const second = await t.admin('GET', '/api/conversations?q=quixotic&limit=1&page=1')
    const third = await t.admin('GET', '/api/conversations?q=quixotic&limit=1&page=2')
    expect(first.body.total).toBe(2)
    expect(second.body.total).toBe(2)
    expect(third.body.conversations).toEqual([])
    const [a, b] = [first.body.conversations[0], second.body.conversations[0]]
    expect(a.id).not.toBe(b.id)
    expect(a.created_at >= b.created_at).toBe(true)
  })

  it('exports the searched set', async () => {
    const { ADMIN_KEY } = await import('./support/gateway.ts')
    const res = await fetch(`${t.url}/api/conversations/export?format=jsonl&q=quixotic&model=${HAIKU}`, { headers: { 'x-admin-key': ADMIN_KEY } })
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l))
    expect(lines.map((c) => c.prompt)).toEqual(['a quixotic second thought'])
  })

  it('refuses a blank or overlong search and unknown parameters', async () => {
    for (const [query, message] of [
      ['q=%20%20', /q: is required/],
      [`q=${'x'.repeat(201)}`, /q: must be at most 200 characters/],
      ['search=x', /unknown query parameter search/],
      ['model=a%20b', /model: must be an id/],
    ] as const) {
      const res = await t.admin('GET', `/api/conversations?${query}`)
      expect(res.status, query).toBe(400)
      expect(res.body.error, query).toMatch(message)
    }
  })
})
