import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard'
import { openEmbeddedEngine, type EmbeddedEngine } from '../src/warehouse/embedded/engine.ts'
import { createEmbeddedClient } from '../src/warehouse/embedded/connection.ts'
import { migrate } from '../src/warehouse/migrate.ts'
import { toClickHouseTime } from '../src/warehouse/time.ts'
import { conversationRow, requestLogRow, type RequestRecord } from '../src/record/request-record.ts'
import { dashboards } from '../dashboards/src/render.ts'
import { alerts, type Threshold } from '../dashboards/src/alerts.ts'
import { CLICKHOUSE_TYPE, type ClickHouseQuery } from '../dashboards/src/datasources.ts'
import { uids } from '../dashboards/src/skeleton.ts'
import { ALL, expandQuery, type QueryContext, type VariableValue } from './support/grafana-macros.ts'

// Every ClickHouse query of every dashboard (panels and variables) and of every Grafana alert rule, expanded
// as Grafana expands it and run on the real schema over a seeded dataset; the key numbers are recomputed
// here from the seed rows.

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

const now = new Date(Math.floor(Date.now() / SECOND) * SECOND)
const range = { from: new Date(now.getTime() - 3 * DAY), to: now, intervalMs: HOUR }

const users = [
  { token: 'tok-alice', name: 'alice' },
  { token: 'tok-bob', name: 'bob' },
  { token: 'tok-carol', name: "carol o'neil" },
]
const accounts = [
  { id: 'acc-main', name: 'main' },
  { id: 'acc-backup', name: 'backup' },
]
const models = ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-1']

function record(at: Date, fields: Partial<RequestRecord> & Pick<RequestRecord, 'token_id'>): RequestRecord {
  const user = users.find((u) => u.token === fields.token_id)!
  const status = fields.status_code ?? 200
  const prompt = fields.prompt_tokens ?? 1000
  const completion = fields.completion_tokens ?? (status < 400 ? 200 : 0)
  const duration = fields.duration_ms ?? 1000
  return {
    id: randomUUID(),
    request_at: at,
    response_at: new Date(at.getTime() + duration),
    duration_ms: duration,
    ttft_ms: null,
    user_name: user.name,
    account_id: 'acc-main',
    mode: 'api',
    endpoint: 'messages',
    model: models[0]!,
    response_model: fields.model ?? models[0]!,
    stream: false,
    status_code: status,
    success: status < 400,
    error_type: '',
    error_message: '',
    stop_reason: status < 400 ? 'end_turn' : '',
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    cache_creation_tokens: 0,
    cache_read_tokens: 0,
    upstream_request_id: '',
    retries: 0,
    client_ip: '10.0.0.1',
    user_agent: 'test',
    conversation_id: '',
    trace_id: '',
    span_id: '',
    request_params: {},
    content: null,
    ...fields,
  }
}

const failures = [
  { status_code: 500, error_type: 'api_error', error_message: 'upstream 500' },
  { status_code: 429, error_type: 'rate_limit_error', error_message: 'slow down' },
  { status_code: 503, error_type: 'overloaded_error', error_message: 'no account available', account_id: '' },
]

/** 96 requests spread over the last 71 hours, a burst in the last 7 minutes, and 5 from ten days ago. */
function seed(): RequestRecord[] {
  const rows: RequestRecord[] = []
  for (let i = 0; i < 96; i++) {
    const token = users[i % 3]!.token
    const failure = i % 9 === 4 ? failures[0] : i % 13 === 6 ? failures[1] : i % 19 === 10 ? failures[2] : undefined
    const stream = i % 2 === 0
    const duration = 200 + ((i * 7919) % 9000)
    rows.push(
      record(new Date(now.getTime() - 30 * SECOND - i * 45 * MINUTE), {
        token_id: token,
        model: models[Math.floor(i / 2) % 3]!,
        mode: i % 4 === 0 ? 'web' : 'api',
        endpoint: i % 5 === 0 ? 'chat.completions' : i % 7 === 3 ? 'count_tokens' : 'messages',
        account_id: accounts[i % 2]!.id,
        stream,
        duration_ms: duration,
        ttft_ms: stream ? Math.floor(duration / 4) : null,
        prompt_tokens: 1000 + ((i * 37) % 500),
        cache_read_tokens: i % 3 === 0 ? 400 : 0,
        cache_creation_tokens: i % 6 === 1 ? 200 : 0,
        retries: i % 10 === 0 ? 1 : 0,
        trace_id: stream ? i.toString(16).padStart(32, '0') : '',
        content:
          token === 'tok-alice'
            ? { system_prompt: '', messages_json: '[]', prompt: `question ${i}`, completion: `answer ${i}`, tool_calls: '[]', tool_results: '[]' }
            : null,
        ...failure,
        ...(failure ? { completion_tokens: 0 } : {}),
      }),
    )
  }
  // the last minutes: slow and partly failing, what the error-rate and latency alerts watch
  for (let k = 0; k < 20; k++) {
    rows.push(
      record(new Date(now.getTime() - 10 * SECOND - k * 20 * SECOND), {
        token_id: 'tok-bob',
        duration_ms: 70_000 + k * 1000,
        ...(k % 5 === 0 ? { status_code: 502, error_type: 'api_error', error_message: 'bad gateway' } : {}),
      }),
    )
  }
  for (let k = 0; k < 5; k++) rows.push(record(new Date(now.getTime() - 10 * DAY - k * MINUTE), { token_id: 'tok-carol', prompt_tokens: 99_999 }))
  return rows
}

const rows = seed()
const inRange = (r: RequestRecord, ctx: { from: Date; to: Date } = range) =>
  r.request_at.getTime() >= Math.floor(ctx.from.getTime() / SECOND) * SECOND && r.request_at.getTime() <= Math.floor(ctx.to.getTime() / SECOND) * SECOND
const utcDay = (d: Date) => d.toISOString().slice(0, 10)
// usage_stats_daily answers whole UTC days: $__dateFilter keeps the days from toDate(from) to toDate(to)
const inDays = (r: RequestRecord) => utcDay(r.request_at) >= utcDay(range.from) && utcDay(r.request_at) <= utcDay(range.to)
const sum = (rs: RequestRecord[], f: (r: RequestRecord) => number) => rs.reduce((s, r) => s + f(r), 0)
/** ClickHouse's quantile(): linear interpolation between the order statistics around level × (n − 1). */
function quantile(values: number[], level: number): number {
  const s = [...values].sort((a, b) => a - b)
  const index = level * (s.length - 1)
  const lo = Math.floor(index)
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (index - lo)
}
function groupBy<K>(rs: RequestRecord[], key: (r: RequestRecord) => K): Map<K, RequestRecord[]> {
  const groups = new Map<K, RequestRecord[]>()
  for (const r of rs) groups.set(key(r), [...(groups.get(key(r)) ?? []), r])
  return groups
}

let engine: EmbeddedEngine
let client: ClickHouseClient

beforeAll(async () => {
  engine = openEmbeddedEngine(mkdtempSync(join(tmpdir(), 'ccproxy-dashboards-')))
  client = createEmbeddedClient(engine, { database: 'ccproxy' })
  await migrate({ client, bootstrap: createEmbeddedClient(engine, { database: 'default' }), database: 'ccproxy' })
  const created = toClickHouseTime(new Date(now.getTime() - 30 * DAY))
  await client.insert({
    table: 'tokens',
    format: 'JSONEachRow',
    values: users.map((u, i) => ({ id: u.token, name: u.name, mode: 'api', created_at: created, expires_at: toClickHouseTime(new Date(now.getTime() + DAY)), revoked_at: null, enable_conversation_logging: i === 0, version: 1 })),
  })
  await client.insert({
    table: 'accounts',
    format: 'JSONEachRow',
    values: accounts.map((a) => ({ id: a.id, name: a.name, type: 'api_key', credentials: 'sealed', key_hint: 'sk-ant-…', priority: 0, is_active: true, created_at: created, updated_at: created, version: 1, is_deleted: 0 })),
  })
  await client.insert({ table: 'request_logs', format: 'JSONEachRow', values: rows.map(requestLogRow) })
  await client.insert({ table: 'conversation_contents', format: 'JSONEachRow', values: rows.flatMap((r) => conversationRow(r) ?? []) })
})

afterAll(async () => {
  await client?.close()
  await engine?.close()
})

type Row = Record<string, unknown>

async function run(sql: string, ctx: QueryContext): Promise<Row[]> {
  const rs = await client.query({ query: expandQuery(sql, ctx), format: 'JSONEachRow' })
  return rs.json<Row>()
}

const isClickHouse = (q: unknown): q is ClickHouseQuery => (q as ClickHouseQuery).datasource?.type === CLICKHOUSE_TYPE

function panelsOf(d: Dashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => (p.type === 'row' ? (p as RowPanel).panels : [p as Panel]))
}

/** The ClickHouse queries of a dashboard: each panel target and each query variable. */
function clickhouseQueries(d: Dashboard): Array<{ name: string; sql: string }> {
  const panels = panelsOf(d).flatMap((p) => (p.targets ?? []).filter(isClickHouse).map((t) => ({ name: `panel "${p.title}"`, sql: t.rawSql })))
  const variables = (d.templating?.list ?? [])
    .filter((v) => v.type === 'query' && v.datasource?.type === CLICKHOUSE_TYPE)
    .map((v) => ({ name: `variable $${v.name}`, sql: (v.query as { rawSql: string }).rawSql }))
  return [...panels, ...variables]
}

const board = (uid: string) => dashboards().find((d) => d.uid === uid)!

function sqlOf(uid: string, title: string): string {
  const matches = panelsOf(board(uid)).filter((p) => p.title === title)
  expect(matches, `${uid} / ${title}`).toHaveLength(1)
  return (matches[0]!.targets!.find(isClickHouse) as ClickHouseQuery).rawSql
}

const panel = (uid: string, title: string, variables: Record<string, VariableValue> = {}) => run(sqlOf(uid, title), { ...range, variables })
const num = (v: unknown) => Number(v)

// The variable choices each dashboard is run with: "All", and a narrower selection.
const selections: Record<string, Array<Record<string, VariableValue>>> = {
  [uids.usage]: [
    { mode: ALL, model: ALL },
    { mode: ['api'], model: ['claude-sonnet-4-5', 'claude-opus-4-1'] },
  ],
  [uids.token]: [{ token: 'tok-alice' }, { token: "tok-o'quote" }],
  [uids.account]: [{ account: ALL }, { account: ['acc-main'] }],
  [uids.requests]: [
    { token: ALL, model: ALL, endpoint: ALL, status: ALL },
    { token: ['tok-alice', 'tok-bob'], model: ['claude-haiku-4-5'], endpoint: ['messages'], status: ['200', '500'] },
  ],
  [uids.latency]: [{ model: ALL }, { model: ['claude-haiku-4-5'] }],
  [uids.pipeline]: [{}],
}

describe('every ClickHouse query of every dashboard runs on the real schema', () => {
  it('covers each dashboard', () => {
    expect(Object.keys(selections).sort()).toEqual(dashboards().map((d) => d.uid).sort())
  })

  for (const d of dashboards()) {
    for (const { name, sql } of clickhouseQueries(d)) {
      it.each(selections[d.uid!]!.map((v) => [JSON.stringify(v), v] as const))(`${d.uid}: ${name} with %s`, async (_, variables) => {
        const result = await run(sql, { ...range, variables })
        expect(Array.isArray(result)).toBe(true)
      })
    }
  }
})

describe('usage overview numbers', () => {
  const all = rows.filter((r) => inRange(r))

  it('requests, success rate, tokens, cache share, active tokens', async () => {
    expect(num((await panel(uids.usage, 'Requests', { mode: ALL, model: ALL }))[0]!.requests)).toBe(all.length)
    const [rate] = await panel(uids.usage, 'Success rate', { mode: ALL, model: ALL })
    expect(rate!.success_rate).toBeCloseTo(all.filter((r) => r.success).length / all.length, 10)
    const [tokens] = await panel(uids.usage, 'Tokens', { mode: ALL, model: ALL })
    expect(tokens).toEqual({
      input: String(sum(all, (r) => r.prompt_tokens)),
      output: String(sum(all, (r) => r.completion_tokens)),
      cache_read: String(sum(all, (r) => r.cache_read_tokens)),
      cache_creation: String(sum(all, (r) => r.cache_creation_tokens)),
    })
    const [share] = await panel(uids.usage, 'Cache-read share of input', { mode: ALL, model: ALL })
    expect(share!.cache_read_share).toBeCloseTo(sum(all, (r) => r.cache_read_tokens) / sum(all, (r) => r.prompt_tokens), 10)
    const [active] = await panel(uids.usage, 'Active tokens and users', { mode: ALL, model: ALL })
    expect(active).toEqual({ tokens: String(users.length), users: String(users.length) })
  })

  it('filters by mode and model', async () => {
    const chosen = all.filter((r) => r.mode === 'api' && ['claude-sonnet-4-5', 'claude-opus-4-1'].includes(r.model))
    expect(chosen.length).toBeGreaterThan(0)
    expect(chosen.length).toBeLessThan(all.length)
    const [n] = await panel(uids.usage, 'Requests', { mode: ['api'], model: ['claude-sonnet-4-5', 'claude-opus-4-1'] })
    expect(num(n!.requests)).toBe(chosen.length)
  })

  it('by mode and model', async () => {
    const table = await panel(uids.usage, 'By mode and model', { mode: ALL, model: ALL })
    const expected = [...groupBy(all, (r) => `${r.mode}/${r.model}`).values()].map((g) => ({ key: `${g[0]!.mode}/${g[0]!.model}`, requests: g.length }))
    expect(table.map((r) => ({ key: `${r.mode}/${r.model}`, requests: num(r.requests) })).sort((a, b) => a.key.localeCompare(b.key))).toEqual(
      expected.sort((a, b) => a.key.localeCompare(b.key)),
    )
    const pie = await panel(uids.usage, 'Requests by mode', { mode: ALL, model: ALL })
    expect(Object.fromEntries(pie.map((r) => [r.mode, num(r.requests)]))).toEqual(Object.fromEntries([...groupBy(all, (r) => r.mode)].map(([k, g]) => [k, g.length])))
  })

  it('daily trend from usage_stats_daily, one point per UTC day', async () => {
    const days = [...groupBy(rows.filter(inDays), (r) => utcDay(r.request_at))].sort(([a], [b]) => a.localeCompare(b))
    const requests = await panel(uids.usage, 'Daily requests', { mode: ALL, model: ALL })
    expect(requests).toEqual(
      days.map(([day, g]) => ({ time: `${day} 00:00:00`, requests: String(g.length), errors: String(g.filter((r) => !r.success).length) })),
    )
    const tokens = await panel(uids.usage, 'Daily tokens', { mode: ALL, model: ALL })
    expect(tokens.map((r) => [r.time, num(r.input), num(r.output)])).toEqual(
      days.map(([day, g]) => [`${day} 00:00:00`, sum(g, (r) => r.prompt_tokens), sum(g, (r) => r.completion_tokens)]),
    )
  })

  it('top tokens and accounts', async () => {
    const byToken = [...groupBy(rows.filter(inDays), (r) => r.token_id)].map(([token, g]) => ({ token, total: sum(g, (r) => r.total_tokens), requests: g.length }))
    byToken.sort((a, b) => b.total - a.total)
    const top = await panel(uids.usage, 'Top tokens', { mode: ALL, model: ALL })
    expect(top.map((r) => [r.token_id, num(r.total_tokens), num(r.requests)])).toEqual(byToken.map((t) => [t.token, t.total, t.requests]))
    expect(top[0]!.user).toBe(users.find((u) => u.token === byToken[0]!.token)!.name)

    const accountsTop = await panel(uids.usage, 'Top accounts', { mode: ALL, model: ALL })
    const byAccount = [...groupBy(rows.filter((r) => inDays(r) && r.account_id !== ''), (r) => r.account_id)].map(([id, g]) => [id, g.length])
    expect(accountsTop.map((r) => [r.account_id, num(r.requests)]).sort()).toEqual(byAccount.sort())
    expect(accountsTop.find((r) => r.account_id === 'acc-backup')!.account).toBe('backup')
  })
})

describe('token dashboard numbers', () => {
  const alice = rows.filter((r) => r.token_id === 'tok-alice' && inRange(r))
  const vars = { token: 'tok-alice' }

  it('offers each token, labelled with its user', async () => {
    const options = await run(clickhouseQueries(board(uids.token)).find((q) => q.name === 'variable $token')!.sql, { ...range })
    expect(options.map((o) => Object.values(o))).toEqual(users.map((u) => [u.token, `${u.name} (${u.token})`]))
  })

  it('requests, success rate, latency percentiles', async () => {
    expect(num((await panel(uids.token, 'Requests', vars))[0]!.requests)).toBe(alice.length)
    expect((await panel(uids.token, 'Success rate', vars))[0]!.success_rate).toBeCloseTo(alice.filter((r) => r.success).length / alice.length, 10)
    const [latency] = await panel(uids.token, 'Latency', vars)
    const durations = alice.map((r) => r.duration_ms)
    expect(latency!.p50).toBeCloseTo(quantile(durations, 0.5), 6)
    expect(latency!.p95).toBeCloseTo(quantile(durations, 0.95), 6)
    const ttfts = alice.flatMap((r) => (r.ttft_ms === null ? [] : [r.ttft_ms]))
    expect(latency!.avg_ttft).toBeCloseTo(sum(alice.filter((r) => r.ttft_ms !== null), (r) => r.ttft_ms!) / ttfts.length, 6)
  })

  it('errors by type, daily usage with merged percentiles, recent requests', async () => {
    const errors = await panel(uids.token, 'Errors', vars)
    const failed = alice.filter((r) => !r.success)
    expect(errors.map((e) => [e.error_type, e.status_code, num(e.requests)]).sort()).toEqual(
      [...groupBy(failed, (r) => `${r.error_type}|${r.status_code}`).values()].map((g) => [g[0]!.error_type, g[0]!.status_code, g.length]).sort(),
    )

    const daily = await panel(uids.token, 'Daily usage', vars)
    const days = [...groupBy(rows.filter((r) => r.token_id === 'tok-alice' && inDays(r)), (r) => utcDay(r.request_at))].sort(([a], [b]) => b.localeCompare(a))
    expect(daily.map((d) => [d.day, num(d.requests)])).toEqual(days.map(([day, g]) => [day, g.length]))
    for (const [i, [, g]] of days.entries()) expect(daily[i]!.p95_duration_ms).toBeCloseTo(quantile(g.map((r) => r.duration_ms), 0.95), 6)

    const recent = await panel(uids.token, 'Recent requests', vars)
    const newest = [...alice].sort((a, b) => b.request_at.getTime() - a.request_at.getTime())
    expect(recent.map((r) => r.id)).toEqual(newest.slice(0, 100).map((r) => r.id))
  })

  it('a token id with a quote is a value, not SQL', async () => {
    expect(num((await panel(uids.token, 'Requests', { token: "tok-o'quote" }))[0]!.requests)).toBe(0)
  })
})

describe('account dashboard numbers', () => {
  it('requests and failures per account, and the selection', async () => {
    const served = rows.filter((r) => inRange(r) && r.account_id !== '')
    const table = await panel(uids.account, 'Accounts', { account: ALL })
    expect(table.map((r) => [r.account_id, r.name, num(r.requests), num(r.failed), num(r.retries)]).sort()).toEqual(
      [...groupBy(served, (r) => r.account_id)]
        .map(([id, g]) => [id, accounts.find((a) => a.id === id)!.name, g.length, g.filter((r) => !r.success).length, sum(g, (r) => r.retries)])
        .sort(),
    )
    const main = await panel(uids.account, 'Accounts', { account: ['acc-main'] })
    expect(main.map((r) => r.account_id)).toEqual(['acc-main'])
  })
})

describe('request log explorer', () => {
  const filters = { token: ['tok-alice', 'tok-bob'], model: ['claude-haiku-4-5'], endpoint: ['messages'], status: ['200', '500'] }
  const matching = rows.filter(
    (r) => inRange(r) && filters.token.includes(r.token_id) && filters.model.includes(r.model) && r.endpoint === 'messages' && [200, 500].includes(r.status_code),
  )

  it('counts and lists the matching requests, newest first, with link fields', async () => {
    expect(matching.length).toBeGreaterThan(0)
    const [count] = await panel(uids.requests, 'Matching requests', filters)
    expect([num(count!.requests), num(count!.failed)]).toEqual([matching.length, matching.filter((r) => !r.success).length])
    const table = await panel(uids.requests, 'Requests', filters)
    expect(table.map((r) => r.id)).toEqual([...matching].sort((a, b) => b.request_at.getTime() - a.request_at.getTime()).map((r) => r.id))
    for (const row of table) {
      const seeded = rows.find((r) => r.id === row.id)!
      expect(row.trace_id).toBe(seeded.trace_id)
      expect(row.conversation_content_id !== '').toBe(seeded.content !== null)
    }
  })

  it('a conversation link points at the conversation of that request', async () => {
    const table = await panel(uids.requests, 'Requests', { token: ['tok-alice'], model: ALL, endpoint: ALL, status: ALL })
    const withContent = table.filter((r) => r.conversation_content_id !== '')
    expect(withContent.length).toBe(rows.filter((r) => r.token_id === 'tok-alice' && inRange(r)).length)
    const ids = await run(`SELECT toString(id) AS id, toString(request_log_id) AS request_log_id FROM conversation_contents`, range)
    for (const row of withContent) expect(ids.find((c) => c.id === row.conversation_content_id)!.request_log_id).toBe(row.id)
  })

  it('"All" matches everything in range', async () => {
    const [count] = await panel(uids.requests, 'Matching requests', { token: ALL, model: ALL, endpoint: ALL, status: ALL })
    expect(num(count!.requests)).toBe(rows.filter((r) => inRange(r)).length)
  })
})

describe('latency and errors numbers', () => {
  const all = rows.filter((r) => inRange(r))

  it('percentiles by model from request_logs', async () => {
    const table = await panel(uids.latency, 'Percentiles by model', { model: ALL })
    for (const [model, g] of groupBy(all, (r) => r.model)) {
      const row = table.find((r) => r.model === model)!
      expect(num(row.requests)).toBe(g.length)
      expect(row.duration_p95).toBeCloseTo(quantile(g.map((r) => r.duration_ms), 0.95), 6)
    }
  })

  it('daily percentiles merged from usage_stats_daily', async () => {
    const daily = await panel(uids.latency, 'Daily percentiles', { model: ['claude-haiku-4-5'] })
    const days = [...groupBy(rows.filter((r) => inDays(r) && r.model === 'claude-haiku-4-5'), (r) => utcDay(r.request_at))].sort(([a], [b]) => a.localeCompare(b))
    expect(daily.map((d) => d.time)).toEqual(days.map(([day]) => `${day} 00:00:00`))
    for (const [i, [, g]] of days.entries()) {
      expect(daily[i]!.duration_p50).toBeCloseTo(quantile(g.map((r) => r.duration_ms), 0.5), 6)
      expect(daily[i]!.duration_p99).toBeCloseTo(quantile(g.map((r) => r.duration_ms), 0.99), 6)
    }
  })

  it('failures by status and type', async () => {
    const table = await panel(uids.latency, 'Failures by status and type', { model: ALL })
    expect(table.map((r) => [r.status_code, r.error_type, num(r.requests)]).sort()).toEqual(
      [...groupBy(all.filter((r) => !r.success), (r) => `${r.status_code}|${r.error_type}`).values()].map((g) => [g[0]!.status_code, g[0]!.error_type, g.length]).sort(),
    )
  })
})

describe('pipeline health numbers', () => {
  it('parts and rows of the ccproxy tables, freshness, arrivals', async () => {
    const tables = await panel(uids.pipeline, 'Tables')
    expect(num(tables.find((t) => t.table === 'request_logs')!.rows)).toBe(rows.length)
    expect(num((await panel(uids.pipeline, 'Active parts'))[0]!.active_parts)).toBeGreaterThan(0)
    const [newest] = await panel(uids.pipeline, 'Newest request row')
    expect(num(newest!.seconds_ago)).toBeGreaterThanOrEqual(10)
    expect(num(newest!.seconds_ago)).toBeLessThan(600)
    const arriving = await panel(uids.pipeline, 'Rows arriving')
    expect(arriving.reduce((total, r) => total + num(r.rows), 0)).toBe(rows.filter((r) => inRange(r)).length)
  })
})

describe('Grafana alert rules on ClickHouse', () => {
  const fires = (value: number, t: Threshold) => (t.op === 'gt' ? value > t.value : value < t.value)
  const clickhouseAlerts = alerts.flatMap((a) => (a.grafana.source === 'clickhouse' ? [{ name: a.name, ...a.grafana }] : []))
  const window = (seconds: number, end = now) => ({ from: new Date(end.getTime() - seconds * SECOND), to: end, intervalMs: MINUTE })

  it('error rate, p95 latency and traffic are evaluated on ClickHouse', () => {
    expect(clickhouseAlerts.map((a) => a.name).sort()).toEqual(['CcproxyHighErrorRate', 'CcproxyHighLatencyP95', 'CcproxyNoTraffic'])
  })

  const expected: Record<string, (rs: RequestRecord[]) => number> = {
    CcproxyHighErrorRate: (rs) => rs.filter((r) => r.status_code >= 500).length / rs.length,
    CcproxyHighLatencyP95: (rs) => quantile(rs.filter((r) => ['messages', 'chat.completions'].includes(r.endpoint)).map((r) => r.duration_ms), 0.95) / 1000,
    CcproxyNoTraffic: (rs) => rs.length,
  }

  it.each(clickhouseAlerts.map((a) => [a.name, a] as const))('%s: one number, as computed from the rows, and it fires on the seeded burst as expected', async (name, a) => {
    const ctx = window(a.rangeSeconds)
    const result = await run(a.sql, ctx)
    expect(result).toHaveLength(1)
    const values = Object.values(result[0]!)
    expect(values).toHaveLength(1)
    const value = num(values[0])
    expect(value).toBeCloseTo(expected[name]!(rows.filter((r) => inRange(r, ctx))), 6)
    // the burst is slow and one in five fails: error rate and latency fire; there is traffic
    expect(fires(value, a.threshold)).toBe(name !== 'CcproxyNoTraffic')
  })

  it('no traffic fires on an hour without requests; error rate stays quiet there', async () => {
    const quiet = window(3600, new Date(now.getTime() - 20 * DAY))
    const noTraffic = clickhouseAlerts.find((a) => a.name === 'CcproxyNoTraffic')!
    expect(fires(num(Object.values((await run(noTraffic.sql, quiet))[0]!)[0]), noTraffic.threshold)).toBe(true)
    const errorRate = clickhouseAlerts.find((a) => a.name === 'CcproxyHighErrorRate')!
    expect(fires(num(Object.values((await run(errorRate.sql, quiet))[0]!)[0]), errorRate.threshold)).toBe(false)
  })
})
