import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestLogRow, type Endpoint, type RequestRecord } from '../src/record/request-record.ts'
import { startTestGateway, type TestGateway } from './support/gateway.ts'
import { seeded } from './support/random.ts'

// ── Seed: ~1 100 requests over 40 days (today included, up to now), five tokens, three accounts, both modes,
// three models, failures, streams with TTFT; inserted in shuffled batches so usage_stats_daily holds several
// unmerged rows per key (reads must sum them). ────────────────────────────────────────────────────────────

const DAY = 86_400_000
const MODELS = ['claude-sonnet-4-6', 'claude-opus-4-1', 'claude-haiku-4-5']
const ACCOUNTS = ['acc_0b6a3e4c-1111-4222-8333-000000000001', 'acc_0b6a3e4c-1111-4222-8333-000000000002', 'cfg_77aa01']
const ENDPOINTS: Endpoint[] = ['messages', 'chat.completions', 'count_tokens']

const { rand, pick, int } = seeded(7_2025)

type Who = { token_id: string; user_name: string }

function makeRecord(at: Date, who: Who, over: Partial<RequestRecord> = {}): RequestRecord {
  const endpoint = pick(ENDPOINTS)
  const mode = rand() < 0.25 ? 'web' : 'api'
  const failed = rand() < 0.12
  const status = failed ? pick([429, 500, 529, 400]) : 200
  const stream = endpoint !== 'count_tokens' && rand() < 0.6
  const prompt = int(5, 12_000)
  const completion = failed || endpoint === 'count_tokens' ? 0 : int(1, 3000)
  const duration = int(60, 60_000)
  const model = pick(MODELS)
  return {
    id: randomUUID(),
    request_at: at,
    response_at: new Date(at.getTime() + duration),
    duration_ms: duration,
    ttft_ms: stream && !failed ? int(120, Math.min(duration, 5000)) : null,
    token_id: who.token_id,
    user_name: who.user_name,
    account_id: pick(ACCOUNTS),
    mode,
    endpoint,
    model,
    response_model: model,
    stream,
    status_code: status,
    success: !failed,
    error_type: failed ? 'api_error' : '',
    error_message: failed ? 'upstream error' : '',
    stop_reason: failed ? '' : 'end_turn',
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cache_creation_tokens: rand() < 0.2 ? int(1, 4000) : 0,
    cache_read_tokens: rand() < 0.3 ? int(1, prompt) : 0,
    upstream_request_id: `req_${randomUUID().slice(0, 12)}`,
    retries: 0,
    client_ip: '10.1.2.3',
    user_agent: 'claude-cli/1.0.96',
    conversation_id: '',
    trace_id: '',
    span_id: '',
    request_params: {},
    content: null,
    ...over,
  }
}

let t: TestGateway
const users: Array<Who & { token: string }> = []
let weighted: Who & { token: string }
const records: RequestRecord[] = []
const now = new Date()
const todayStart = Date.parse(now.toISOString().slice(0, 10))
/** 'YYYY-MM-DD' of `n` days ago (UTC) */
const day = (n: number) => new Date(todayStart - n * DAY).toISOString().slice(0, 10)
const dayOf = (r: RequestRecord) => r.request_at.toISOString().slice(0, 10)
let mintedValid = 0

beforeAll(async () => {
  t = await startTestGateway()
  for (const name of ['alice', 'bob', 'carol', 'dave']) {
    const { id, token } = await t.mintToken({ name })
    users.push({ token_id: id, user_name: name, token })
  }
  const w = await t.mintToken({ name: 'weighted' })
  weighted = { token_id: w.id, user_name: 'weighted', token: w.token }
  mintedValid = 5
  // a revoked token and an expired one do not count as active
  const revoked = await t.mintToken({ name: 'gone' })
  expect((await t.admin('POST', '/api/token/revoke', { id: revoked.id })).status).toBe(200)
  await t.gateway.services.warehouse.tokens.save({
    id: randomUUID(),
    name: 'expired',
    mode: 'both',
    created_at: new Date(Date.now() - 10 * DAY),
    expires_at: new Date(Date.now() - DAY),
    revoked_at: null,
    enable_conversation_logging: false,
  })

  for (let d = 39; d >= 0; d--) {
    const n = d === 0 ? 40 : int(10, 45)
    const span = d === 0 ? Math.max(1, now.getTime() - todayStart - 1) : DAY - 1
    for (let i = 0; i < n; i++) records.push(makeRecord(new Date(todayStart - d * DAY + Math.floor(rand() * span)), pick(users)))
  }
  // Averages weigh requests, not days: yesterday one slow request, today nine quick ones.
  records.push(makeRecord(new Date(todayStart - DAY + 3_600_000), weighted, { duration_ms: 10_000, ttft_ms: 4000, stream: true, success: true, status_code: 200 }))
  for (let i = 0; i < 9; i++) {
    const at = new Date(todayStart + Math.floor((i / 9) * Math.max(1, now.getTime() - todayStart - 1)))
    records.push(makeRecord(at, weighted, { duration_ms: 1000, ttft_ms: 100, stream: true, success: true, status_code: 200, mode: 'api', model: MODELS[0]! }))
  }
  // carol is silent for the last two weeks but busy before
  const shuffled = records
    .filter((r) => !(r.token_id === users[2]!.token_id && r.request_at.getTime() >= todayStart - 14 * DAY))
    .sort(() => rand() - 0.5)
  records.length = 0
  records.push(...shuffled)

  const client = t.gateway.services.warehouse.client
  for (let i = 0; i < records.length; i += 150) {
    await client.insert({ table: 'request_logs', values: records.slice(i, i + 150).map(requestLogRow), format: 'JSONEachRow' })
  }
}, 120_000)
afterAll(() => t?.close())

// ── The expected numbers, computed here from the records ───────────────────────────────────────────────

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const round2 = (n: number) => Math.round(n * 100) / 100
const inDays = (from: string, to: string) => (r: RequestRecord) => dayOf(r) >= from && dayOf(r) <= to

function expectedStats(rs: RequestRecord[]) {
  const n = rs.length
  const ok = rs.filter((r) => r.success).length
  const ttft = rs.filter((r) => r.ttft_ms !== null).map((r) => r.ttft_ms!)
  return {
    request_count: n,
    success_count: ok,
    error_count: n - ok,
    total_prompt_tokens: sum(rs.map((r) => r.prompt_tokens)),
    total_completion_tokens: sum(rs.map((r) => r.completion_tokens)),
    total_tokens: sum(rs.map((r) => r.total_tokens)),
    total_cache_creation_tokens: sum(rs.map((r) => r.cache_creation_tokens)),
    total_cache_read_tokens: sum(rs.map((r) => r.cache_read_tokens)),
    avg_duration_ms: n ? round2(sum(rs.map((r) => r.duration_ms)) / n) : 0,
    avg_ttft_ms: ttft.length ? round2(sum(ttft) / ttft.length) : 0,
    success_rate: n ? round2((ok / n) * 100) : 0,
  }
}

/** A quantile of ClickHouse's `quantiles` lies between the two order statistics around level·(n−1). */
function expectQuantile(actual: number, values: number[], level: number) {
  if (values.length === 0) return expect(actual).toBe(0)
  const sorted = [...values].sort((a, b) => a - b)
  const pos = level * (sorted.length - 1)
  expect(actual).toBeGreaterThanOrEqual(sorted[Math.floor(pos)]! - 1)
  expect(actual).toBeLessThanOrEqual(sorted[Math.ceil(pos)]! + 1)
}

function expectFullStats(body: any, rs: RequestRecord[]) {
  expect(body).toMatchObject(expectedStats(rs))
  expectQuantile(body.p50_duration_ms, rs.map((r) => r.duration_ms), 0.5)
  expectQuantile(body.p95_duration_ms, rs.map((r) => r.duration_ms), 0.95)
  expectQuantile(body.p99_duration_ms, rs.map((r) => r.duration_ms), 0.99)
  expectQuantile(body.p95_ttft_ms, rs.filter((r) => r.ttft_ms !== null).map((r) => r.ttft_ms!), 0.95)
}

const ZEROS = {
  request_count: 0,
  success_count: 0,
  error_count: 0,
  total_prompt_tokens: 0,
  total_completion_tokens: 0,
  total_tokens: 0,
  avg_duration_ms: 0,
  avg_ttft_ms: 0,
  p95_duration_ms: 0,
  success_rate: 0,
}

describe('GET /api/stats/tokens/:id and /api/stats/accounts/:id', () => {
  it('defaults to the last 7 days including today', async () => {
    const alice = users[0]!
    const res = await t.admin('GET', `/api/stats/tokens/${alice.token_id}`)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ token_id: alice.token_id, from_date: day(6), to_date: day(0) })
    const rs = records.filter((r) => r.token_id === alice.token_id && inDays(day(6), day(0))(r))
    expect(rs.length).toBeGreaterThan(20)
    expectFullStats(res.body, rs)
  })

  it('days=N, from_date/to_date, only one of them', async () => {
    const bob = users[1]!
    const cases: Array<[string, string, string]> = [
      ['days=1', day(0), day(0)],
      ['days=30', day(29), day(0)],
      ['days=366', day(365), day(0)],
      [`from_date=${day(12)}&to_date=${day(5)}`, day(12), day(5)],
      [`from=${day(12)}&to=${day(12)}`, day(12), day(12)],
      [`from_date=${day(3)}`, day(3), day(0)],
      [`to_date=${day(10)}`, day(16), day(10)],
    ]
    for (const [query, from, to] of cases) {
      const res = await t.admin('GET', `/api/stats/tokens/${bob.token_id}?${query}`)
      expect(res.status, query).toBe(200)
      expect(res.body, query).toMatchObject({ from_date: from, to_date: to })
      expectFullStats(res.body, records.filter((r) => r.token_id === bob.token_id && inDays(from, to)(r)))
    }
  })

  it('averages weigh every request, not every day', async () => {
    const res = await t.admin('GET', `/api/stats/tokens/${weighted.token_id}?days=2`)
    expect(res.body.request_count).toBe(10)
    expect(res.body.avg_duration_ms).toBe(1900) // (10 000 + 9 × 1 000) / 10, not (10 000 + 1 000) / 2
    expect(res.body.avg_ttft_ms).toBe(490) // (4 000 + 9 × 100) / 10
    expect(res.body.success_rate).toBe(100)
  })

  it('accounts, over everything their requests touched', async () => {
    for (const account of ACCOUNTS) {
      const res = await t.admin('GET', `/api/stats/accounts/${account}?days=14`)
      expect(res.status).toBe(200)
      expect(res.body.account_id).toBe(account)
      expectFullStats(res.body, records.filter((r) => r.account_id === account && inDays(day(13), day(0))(r)))
    }
  })

  it('zeros, not nulls or a 500, when there is no data', async () => {
    const carol = users[2]!
    const silent = await t.admin('GET', `/api/stats/tokens/${carol.token_id}?days=7`)
    expect(silent.status).toBe(200)
    expect(silent.body).toMatchObject(ZEROS)
    const unknown = await t.admin('GET', `/api/stats/accounts/acc_nobody`)
    expect(unknown.status).toBe(200)
    expect(unknown.body).toMatchObject(ZEROS)
    const past = await t.admin('GET', `/api/stats/tokens/${users[0]!.token_id}?from_date=2001-01-01&to_date=2001-12-31`)
    expect(past.body).toMatchObject(ZEROS)
  })

  it('rejects bad ranges and ids with a 400 that names the parameter', async () => {
    const id = users[0]!.token_id
    const bad: Array<[string, RegExp]> = [
      [`/api/stats/tokens/${id}?days=0`, /days/],
      [`/api/stats/tokens/${id}?days=367`, /days/],
      [`/api/stats/tokens/${id}?days=week`, /days/],
      [`/api/stats/tokens/${id}?from_date=2025-02-30`, /from_date: must be a date YYYY-MM-DD/],
      [`/api/stats/tokens/${id}?from_date=2025-01-01T00:00:00Z`, /from_date/],
      [`/api/stats/tokens/${id}?from_date=${day(1)}&to_date=${day(3)}`, /from_date must not be after to_date/],
      [`/api/stats/tokens/${id}?days=3&from_date=${day(3)}`, /days or from_date/],
      [`/api/stats/tokens/${id}?from_date=${day(-3)}`, /from_date must not be after today/],
      [`/api/stats/tokens/${id}?range=7d`, /unknown query parameter range/],
      [`/api/stats/tokens/x'%20OR%20'1'='1`, /token_id: must be an id/],
      [`/api/stats/accounts/acc;DROP`, /account_id: must be an id/],
      [`/api/stats/tokens/${id}/trend?days=400`, /days/],
      [`/api/stats/overview?days=-1`, /days/],
      [`/api/stats/top/tokens?limit=101`, /limit/],
      [`/api/stats/top/models?days=0`, /days/],
      [`/api/stats/realtime?days=1`, /unknown query parameter days/],
    ]
    for (const [path, message] of bad) {
      const res = await t.admin('GET', path)
      expect(res.status, path).toBe(400)
      expect(res.body.error, path).toMatch(message)
    }
  })
})

describe('GET /api/stats/…/trend', () => {
  it('has every day, ascending, ending today, zeros for quiet days', async () => {
    const carol = users[2]!
    const res = await t.admin('GET', `/api/stats/tokens/${carol.token_id}/trend`)
    expect(res.status).toBe(200)
    expect(res.body.token_id).toBe(carol.token_id)
    expect(res.body.days).toBe(30)
    expect(res.body.trend).toHaveLength(30)
    expect(res.body.trend.map((p: any) => p.date)).toEqual(Array.from({ length: 30 }, (_, i) => day(29 - i)))
    for (const point of res.body.trend) {
      const rs = records.filter((r) => r.token_id === carol.token_id && dayOf(r) === point.date)
      expect(point).toEqual({
        date: point.date,
        request_count: rs.length,
        success_count: rs.filter((r) => r.success).length,
        error_count: rs.filter((r) => !r.success).length,
        total_tokens: sum(rs.map((r) => r.total_tokens)),
      })
    }
    // the last two weeks are silent for carol, the weeks before are not
    expect(res.body.trend.slice(-14).every((p: any) => p.request_count === 0)).toBe(true)
    expect(res.body.trend.slice(0, 16).some((p: any) => p.request_count > 0)).toBe(true)
  })

  it('for accounts, and for one day', async () => {
    const res = await t.admin('GET', `/api/stats/accounts/${ACCOUNTS[1]}/trend?days=1`)
    expect(res.body.account_id).toBe(ACCOUNTS[1])
    expect(res.body.days).toBe(1)
    const rs = records.filter((r) => r.account_id === ACCOUNTS[1] && dayOf(r) === day(0))
    expect(res.body.trend).toEqual([
      {
        date: day(0),
        request_count: rs.length,
        success_count: rs.filter((r) => r.success).length,
        error_count: rs.filter((r) => !r.success).length,
        total_tokens: sum(rs.map((r) => r.total_tokens)),
      },
    ])
    const year = await t.admin('GET', `/api/stats/accounts/${ACCOUNTS[1]}/trend?days=366`)
    expect(year.body.trend).toHaveLength(366)
    expect(sum(year.body.trend.map((p: any) => p.request_count))).toBe(records.filter((r) => r.account_id === ACCOUNTS[1]).length)
  })
})

describe('GET /api/stats/overview', () => {
  it('totals, distinct users, active tokens, and full stats by mode and by model', async () => {
    for (const query of ['', '?days=30', `?from_date=${day(20)}&to_date=${day(10)}`]) {
      const res = await t.admin('GET', `/api/stats/overview${query}`)
      expect(res.status).toBe(200)
      const from = query === '' ? day(6) : query === '?days=30' ? day(29) : day(20)
      const to = query.includes('to_date') ? day(10) : day(0)
      const rs = records.filter(inDays(from, to))
      expect(res.body).toMatchObject({
        from_date: from,
        to_date: to,
        total_requests: rs.length,
        total_tokens: sum(rs.map((r) => r.total_tokens)),
        total_users: new Set(rs.map((r) => r.token_id)).size,
        active_tokens: mintedValid,
      })
      expect(Object.keys(res.body.by_mode).sort()).toEqual([...new Set(rs.map((r) => r.mode))].sort())
      for (const [mode, stats] of Object.entries(res.body.by_mode)) expectFullStats(stats, rs.filter((r) => r.mode === mode))
      expect(Object.keys(res.body.by_model).sort()).toEqual([...new Set(rs.map((r) => r.model))].sort())
      for (const [model, stats] of Object.entries(res.body.by_model)) expectFullStats(stats, rs.filter((r) => r.model === model))
    }
  })

  it('zeros for a range without requests', async () => {
    const res = await t.admin('GET', '/api/stats/overview?from_date=2001-01-01&to_date=2001-01-31')
    expect(res.body).toEqual({
      from_date: '2001-01-01',
      to_date: '2001-01-31',
      total_requests: 0,
      total_tokens: 0,
      total_users: 0,
      active_tokens: mintedValid,
      by_mode: {},
      by_model: {},
    })
  })
})

describe('GET /api/stats/realtime', () => {
  it('today so far (UTC), from the request logs', async () => {
    const res = await t.admin('GET', '/api/stats/realtime')
    expect(res.status).toBe(200)
    const rs = records.filter((r) => dayOf(r) === day(0))
    const ok = rs.filter((r) => r.success).length
    expect(res.body).toEqual({
      date: day(0),
      total_requests: rs.length,
      success_count: ok,
      error_count: rs.length - ok,
      total_tokens: sum(rs.map((r) => r.total_tokens)),
      avg_duration_ms: round2(sum(rs.map((r) => r.duration_ms)) / rs.length),
      success_rate: round2((ok / rs.length) * 100),
    })
  })
})

describe('GET /api/stats/top/…', () => {
  it('top tokens by requests, with the user name, and the effective days and limit', async () => {
    for (const [query, days, limit] of [['', 7, 10], ['?days=30&limit=2', 30, 2]] as const) {
      const res = await t.admin('GET', `/api/stats/top/tokens${query}`)
      expect(res.status).toBe(200)
      expect(res.body.days).toBe(days)
      expect(res.body.limit).toBe(limit)
      const rs = records.filter(inDays(day(days - 1), day(0)))
      const expected = [...new Set(rs.map((r) => r.token_id))]
        .map((id) => {
          const mine = rs.filter((r) => r.token_id === id)
          const ok = mine.filter((r) => r.success).length
          return {
            token_id: id,
            user_name: mine[0]!.user_name,
            total_requests: mine.length,
            total_tokens: sum(mine.map((r) => r.total_tokens)),
            success_count: ok,
            error_count: mine.length - ok,
            success_rate: round2((ok / mine.length) * 100),
          }
        })
        .sort((a, b) => b.total_requests - a.total_requests || b.total_tokens - a.total_tokens || (a.token_id < b.token_id ? -1 : 1))
        .slice(0, limit)
      expect(res.body.tokens).toEqual(expected)
    }
  })

  it('top models by requests', async () => {
    const res = await t.admin('GET', '/api/stats/top/models?days=14&limit=5')
    expect(res.body).toMatchObject({ days: 14, limit: 5 })
    const rs = records.filter(inDays(day(13), day(0)))
    const expected = MODELS.map((model) => {
      const mine = rs.filter((r) => r.model === model)
      const ok = mine.filter((r) => r.success).length
      return { model, total_requests: mine.length, total_tokens: sum(mine.map((r) => r.total_tokens)), success_count: ok, success_rate: round2((ok / mine.length) * 100) }
    }).sort((a, b) => b.total_requests - a.total_requests || b.total_tokens - a.total_tokens)
    expect(res.body.models).toEqual(expected)
  })
})

describe('token usage totals', () => {
  it('the token list and /api/token/info count every request of the token, all days', async () => {
    const list = await t.admin('GET', '/api/token/list')
    expect(list.status).toBe(200)
    for (const u of [...users, weighted]) {
      const mine = records.filter((r) => r.token_id === u.token_id)
      const listed = list.body.tokens.find((x: any) => x.id === u.token_id)
      expect(listed).toMatchObject({ total_requests: mine.length, total_tokens_used: sum(mine.map((r) => r.total_tokens)) })
      const info = await fetch(`${t.url}/api/token/info`, { headers: { authorization: `Bearer ${u.token}` } })
      expect(info.status).toBe(200)
      expect(await info.json()).toMatchObject({ id: u.token_id, total_requests: mine.length, total_tokens_used: sum(mine.map((r) => r.total_tokens)) })
    }
    const gone = list.body.tokens.find((x: any) => x.name === 'gone')
    expect(gone).toMatchObject({ total_requests: 0, total_tokens_used: 0 })
  })
})
