import type { ClickHouseClient } from '@clickhouse/client'
import { Conditions, TIME_TYPE } from './request-logs.ts'
import { toClickHouseTime } from './time.ts'

/**
 * Usage statistics. Everything but realtime reads usage_stats_daily, which the materialized view keeps
 * live (today included). Its rows for one key only collapse when parts merge, so every read aggregates:
 * sum() over the SimpleAggregateFunction(sum) columns, quantilesMerge() over the quantile states — and
 * averages are sums over counts, weighing every request equally across days.
 * The table is ORDER BY (stat_date, token_id, …): a date range reads a contiguous slice.
 */

/** An inclusive range of UTC calendar days, 'YYYY-MM-DD'. */
export interface DayRange {
  from: string
  to: string
}

export interface UsageStats {
  request_count: number
  success_count: number
  error_count: number
  total_prompt_tokens: number
  total_completion_tokens: number
  total_tokens: number
  total_cache_creation_tokens: number
  total_cache_read_tokens: number
  /** sum of durations / requests */
  avg_duration_ms: number
  /** sum of TTFTs / requests that have one */
  avg_ttft_ms: number
  p50_duration_ms: number
  p95_duration_ms: number
  p99_duration_ms: number
  p95_ttft_ms: number
  /** percent, 0–100 */
  success_rate: number
}

export interface TrendPoint {
  date: string
  request_count: number
  success_count: number
  error_count: number
  total_tokens: number
}

export interface Overview {
  total_requests: number
  total_tokens: number
  total_users: number
  by_mode: Record<string, UsageStats>
  by_model: Record<string, UsageStats>
}

export interface Realtime {
  date: string
  total_requests: number
  success_count: number
  error_count: number
  total_tokens: number
  avg_duration_ms: number
  success_rate: number
}

export interface TopToken {
  token_id: string
  user_name: string
  total_requests: number
  total_tokens: number
  success_count: number
  error_count: number
  success_rate: number
}

export interface TopModel {
  model: string
  total_requests: number
  total_tokens: number
  success_count: number
  success_rate: number
}

export type StatsScope = { token_id: string } | { account_id: string } | Record<string, never>

const AGGREGATES = `
  sum(request_count) AS s_requests,
  sum(success_count) AS s_successes,
  sum(error_count) AS s_errors,
  sum(prompt_tokens) AS s_prompt_tokens,
  sum(completion_tokens) AS s_completion_tokens,
  sum(total_tokens) AS s_total_tokens,
  sum(cache_creation_tokens) AS s_cache_creation_tokens,
  sum(cache_read_tokens) AS s_cache_read_tokens,
  sum(duration_ms_sum) AS s_duration_ms,
  sum(ttft_ms_sum) AS s_ttft_ms,
  sum(ttft_count) AS s_ttft_count,
  quantilesMerge(0.5, 0.95, 0.99)(duration_quantiles) AS s_duration_q,
  quantilesMerge(0.5, 0.95, 0.99)(ttft_quantiles) AS s_ttft_q`

type Aggregated = Record<string, unknown>

const num = (v: unknown): number => {
  const n = Number(v ?? 0)
  return Number.isFinite(n) ? n : 0
}
const round2 = (n: number): number => Math.round(n * 100) / 100
const ratio = (part: number, whole: number): number => (whole > 0 ? part / whole : 0)
/** percent with two decimals, 0 when there is nothing to divide */
export const successRate = (successes: number, requests: number): number => round2(ratio(successes, requests) * 100)
const quantile = (v: unknown, i: number): number => (Array.isArray(v) ? Math.round(num(v[i])) : 0)

function toStats(r: Aggregated | undefined): UsageStats {
  const requests = num(r?.s_requests)
  const successes = num(r?.s_successes)
  return {
    request_count: requests,
    success_count: successes,
    error_count: num(r?.s_errors),
    total_prompt_tokens: num(r?.s_prompt_tokens),
    total_completion_tokens: num(r?.s_completion_tokens),
    total_tokens: num(r?.s_total_tokens),
    total_cache_creation_tokens: num(r?.s_cache_creation_tokens),
    total_cache_read_tokens: num(r?.s_cache_read_tokens),
    avg_duration_ms: round2(ratio(num(r?.s_duration_ms), requests)),
    avg_ttft_ms: round2(ratio(num(r?.s_ttft_ms), num(r?.s_ttft_count))),
    p50_duration_ms: quantile(r?.s_duration_q, 0),
    p95_duration_ms: quantile(r?.s_duration_q, 1),
    p99_duration_ms: quantile(r?.s_duration_q, 2),
    p95_ttft_ms: quantile(r?.s_ttft_q, 1),
    success_rate: successRate(successes, requests),
  }
}

/** 'YYYY-MM-DD' of a UTC day, `offset` days from `day`. */
export function addDays(day: string, offset: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10)
}

export const utcDay = (at: Date = new Date()): string => at.toISOString().slice(0, 10)

function rangeConditions(range: DayRange, scope: StatsScope = {}): Conditions {
  const c = new Conditions().add('stat_date', '>=', 'Date', range.from).add('stat_date', '<=', 'Date', range.to)
  if ('token_id' in scope) c.add('token_id', '=', 'String', scope.token_id)
  if ('account_id' in scope) c.add('account_id', '=', 'String', scope.account_id)
  return c
}

// ── The Usage page: a range's totals, trend and breakdowns, optionally narrowed ────────────────────────────

export interface UsageFilter {
  token_id?: string
  account_id?: string
  model?: string
}

export type Granularity = 'day' | 'hour'

export interface UsageBucket {
  /** YYYY-MM-DD (day) or the hour's start as ISO-8601 UTC (hour) */
  bucket: string
  request_count: number
  success_count: number
  error_count: number
  prompt_tokens: number
  completion_tokens: number
  cache_creation_tokens: number
  cache_read_tokens: number
  total_tokens: number
}

export interface UsageBreakdown {
  totals: UsageStats
  by_model: Array<{ model: string } & UsageStats>
  by_token: Array<{ token_id: string } & UsageStats>
  by_account: Array<{ account_id: string } & UsageStats>
}

/** Rows per breakdown table: the biggest by requests. */
export const BREAKDOWN_ROWS = 100

const BUCKET_SUMS = `count() AS r, countIf(success) AS s, countIf(NOT success) AS e, sum(prompt_tokens) AS p, sum(completion_tokens) AS c,
  sum(cache_creation_tokens) AS cc, sum(cache_read_tokens) AS cr, sum(total_tokens) AS t`
const DAILY_BUCKET_SUMS = `sum(request_count) AS r, sum(success_count) AS s, sum(error_count) AS e, sum(prompt_tokens) AS p,
  sum(completion_tokens) AS c, sum(cache_creation_tokens) AS cc, sum(cache_read_tokens) AS cr, sum(total_tokens) AS t`

function narrowed(c: Conditions, filter: UsageFilter): Conditions {
  if (filter.token_id !== undefined) c.add('token_id', '=', 'String', filter.token_id)
  if (filter.account_id !== undefined) c.add('account_id', '=', 'String', filter.account_id)
  if (filter.model !== undefined) c.add('model', '=', 'String', filter.model)
  return c
}

const toBucket = (bucket: string, r: Aggregated | undefined): UsageBucket => ({
  bucket,
  request_count: num(r?.r),
  success_count: num(r?.s),
  error_count: num(r?.e),
  prompt_tokens: num(r?.p),
  completion_tokens: num(r?.c),
  cache_creation_tokens: num(r?.cc),
  cache_read_tokens: num(r?.cr),
  total_tokens: num(r?.t),
})

export class StatsStore {
  constructor(private readonly client: ClickHouseClient) {}

  private async rows(query: string, query_params: Record<string, unknown>): Promise<Aggregated[]> {
    const rs = await this.client.query({ query, query_params, format: 'JSONEachRow' })
    return rs.json<Aggregated>()
  }

  /** Totals of a token, an account or everything over the range; zeros when there is no data. */
  async aggregate(scope: StatsScope, range: DayRange): Promise<UsageStats> {
    const where = rangeConditions(range, scope)
    const [row] = await this.rows(`SELECT ${AGGREGATES} FROM usage_stats_daily ${where.sql()}`, where.params)
    return toStats(row)
  }

  /** One point per day of the range, ascending, days without requests as zeros. */
  async trend(scope: StatsScope, range: DayRange): Promise<TrendPoint[]> {
    const where = rangeConditions(range, scope)
    const rows = await this.rows(
      `SELECT toString(stat_date) AS date, sum(request_count) AS r, sum(success_count) AS s, sum(error_count) AS e, sum(total_tokens) AS t
       FROM usage_stats_daily ${where.sql()} GROUP BY stat_date`,
      where.params,
    )
    const byDate = new Map(rows.map((r) => [String(r.date), r]))
    const points: TrendPoint[] = []
    for (let day = range.from; day <= range.to; day = addDays(day, 1)) {
      const r = byDate.get(day)
      points.push({ date: day, request_count: num(r?.r), success_count: num(r?.s), error_count: num(r?.e), total_tokens: num(r?.t) })
    }
    return points
  }

  /**
   * One scan for the whole overview: GROUPING SETS give the totals, the per-mode and the per-model rows
   * together (the embedded engine runs parameterized queries one at a time, so three queries cost three scans).
   * Users are the distinct tokens; refused and unauthenticated requests count as requests but as no user.
   */
  async overview(range: DayRange): Promise<Overview> {
    const where = rangeConditions(range)
    const rows = await this.rows(
      `SELECT grouping(mode, model) AS set, mode, model, ${AGGREGATES}, uniqExactIf(token_id, request_count > 0 AND token_id != '') AS u
       FROM usage_stats_daily ${where.sql()}
       GROUP BY GROUPING SETS ((), (mode), (model))
       ORDER BY set, mode, model`,
      where.params,
    )
    // grouping(mode, model) sets a bit for each column a row is not grouped by: 1 = per mode, 2 = per model, 3 = totals
    const keyed = (set: number, key: 'mode' | 'model') =>
      Object.fromEntries(rows.filter((r) => num(r.set) === set).map((r) => [String(r[key]), toStats(r)]))
    const totals = rows.find((r) => num(r.set) === 3)
    return {
      total_requests: num(totals?.s_requests),
      total_tokens: num(totals?.s_total_tokens),
      total_users: num(totals?.u),
      by_mode: keyed(1, 'mode'),
      by_model: keyed(2, 'model'),
    }
  }

  /** Today so far (UTC), from request_logs: the minmax index on request_at skips every older granule. */
  async realtime(now: Date = new Date()): Promise<Realtime> {
    const date = utcDay(now)
    const where = new Conditions()
      .add('request_at', '>=', TIME_TYPE, toClickHouseTime(new Date(`${date}T00:00:00Z`)))
      .add('request_at', '<', TIME_TYPE, toClickHouseTime(new Date(`${addDays(date, 1)}T00:00:00Z`)))
    const [r] = await this.rows(
      `SELECT count() AS r, countIf(success) AS s, sum(total_tokens) AS t, sum(duration_ms) AS d FROM request_logs ${where.sql()}`,
      where.params,
    )
    const requests = num(r?.r)
    const successes = num(r?.s)
    return {
      date,
      total_requests: requests,
      success_count: successes,
      error_count: requests - successes,
      total_tokens: num(r?.t),
      avg_duration_ms: round2(ratio(num(r?.d), requests)),
      success_rate: successRate(successes, requests),
    }
  }

  /**
   * The tokens with the most requests in the range (ties: more tokens, then id). Names come from the
   * request logs of those tokens in the range (the name the token carried when it was used).
   */
  async topTokens(range: DayRange, limit: number): Promise<TopToken[]> {
    // Refused and unauthenticated requests are filed under no token (''): requests, but nobody's.
    const where = rangeConditions(range).raw("token_id != ''", {})
    const rows = await this.rows(
      `SELECT token_id, sum(request_count) AS r, sum(total_tokens) AS t, sum(success_count) AS s, sum(error_count) AS e
       FROM usage_stats_daily ${where.sql()} GROUP BY token_id
       ORDER BY r DESC, t DESC, token_id ASC LIMIT {limit:UInt32}`,
      { ...where.params, limit },
    )
    if (rows.length === 0) return []
    const names = new Conditions()
      .raw('token_id IN {ids:Array(String)}', { ids: rows.map((r) => String(r.token_id)) })
      .add('request_at', '>=', TIME_TYPE, toClickHouseTime(new Date(`${range.from}T00:00:00Z`)))
      .add('request_at', '<', TIME_TYPE, toClickHouseTime(new Date(`${addDays(range.to, 1)}T00:00:00Z`)))
    const nameRows = await this.rows(`SELECT token_id, any(user_name) AS user_name FROM request_logs ${names.sql()} GROUP BY token_id`, names.params)
    const nameOf = new Map(nameRows.map((r) => [String(r.token_id), String(r.user_name ?? '')]))
    return rows.map((r) => ({
      token_id: String(r.token_id),
      user_name: nameOf.get(String(r.token_id)) ?? '',
      total_requests: num(r.r),
      total_tokens: num(r.t),
      success_count: num(r.s),
      error_count: num(r.e),
      success_rate: successRate(num(r.s), num(r.r)),
    }))
  }

  /** The models with the most requests in the range (ties: more tokens, then name). */
  async topModels(range: DayRange, limit: number): Promise<TopModel[]> {
    const where = rangeConditions(range)
    const rows = await this.rows(
      `SELECT model, sum(request_count) AS r, sum(total_tokens) AS t, sum(success_count) AS s
       FROM usage_stats_daily ${where.sql()} GROUP BY model
       ORDER BY r DESC, t DESC, model ASC LIMIT {limit:UInt32}`,
      { ...where.params, limit },
    )
    return rows.map((r) => ({
      model: String(r.model),
      total_requests: num(r.r),
      total_tokens: num(r.t),
      success_count: num(r.s),
      success_rate: successRate(num(r.s), num(r.r)),
    }))
  }

  /**
   * Totals and the per-model, per-token and per-account tables in one scan of usage_stats_daily (GROUPING
   * SETS), each table the BREAKDOWN_ROWS biggest by requests (ties: tokens, then the key).
   */
  async usageBreakdown(range: DayRange, filter: UsageFilter): Promise<UsageBreakdown> {
    const where = narrowed(rangeConditions(range), filter)
    const rows = await this.rows(
      `SELECT grouping(model, token_id, account_id) AS set, model, token_id, account_id, ${AGGREGATES}
       FROM usage_stats_daily ${where.sql()}
       GROUP BY GROUPING SETS ((), (model), (token_id), (account_id))
       ORDER BY set, s_requests DESC, s_total_tokens DESC, model, token_id, account_id`,
      where.params,
    )
    // grouping() sets a bit for each column a row is not grouped by (model = 4, token_id = 2, account_id = 1)
    const of = (set: number) => rows.filter((r) => num(r.set) === set).slice(0, BREAKDOWN_ROWS)
    return {
      totals: toStats(rows.find((r) => num(r.set) === 7)),
      by_model: of(3).map((r) => ({ model: String(r.model), ...toStats(r) })),
      by_token: of(5).map((r) => ({ token_id: String(r.token_id), ...toStats(r) })),
      by_account: of(6).map((r) => ({ account_id: String(r.account_id), ...toStats(r) })),
    }
  }

  /**
   * Every day or hour of the range, ascending, empty ones as zeros. Days come from usage_stats_daily; hours
   * from request_logs (the daily table has no hours), where the time bounds let the minmax index skip the rest.
   */
  async usageTrend(range: DayRange, filter: UsageFilter, granularity: Granularity): Promise<UsageBucket[]> {
    const buckets: UsageBucket[] = []
    if (granularity === 'day') {
      const where = narrowed(rangeConditions(range), filter)
      const rows = await this.rows(`SELECT toString(stat_date) AS b, ${DAILY_BUCKET_SUMS} FROM usage_stats_daily ${where.sql()} GROUP BY stat_date`, where.params)
      const byDay = new Map(rows.map((r) => [String(r.b), r]))
      for (let day = range.from; day <= range.to; day = addDays(day, 1)) buckets.push(toBucket(day, byDay.get(day)))
      return buckets
    }
    const start = Date.parse(`${range.from}T00:00:00Z`)
    const end = Date.parse(`${addDays(range.to, 1)}T00:00:00Z`)
    const where = narrowed(
      new Conditions().add('request_at', '>=', TIME_TYPE, toClickHouseTime(new Date(start))).add('request_at', '<', TIME_TYPE, toClickHouseTime(new Date(end))),
      filter,
    )
    const rows = await this.rows(
      `SELECT toUnixTimestamp(toStartOfHour(request_at)) AS b, ${BUCKET_SUMS} FROM request_logs ${where.sql()} GROUP BY b`,
      where.params,
    )
    const byHour = new Map(rows.map((r) => [num(r.b) * 1000, r]))
    for (let at = start; at < end; at += 3_600_000) buckets.push(toBucket(new Date(at).toISOString(), byHour.get(at)))
    return buckets
  }

  /** All-time requests and tokens of each of these tokens (one grouped query); absent ids have none. */
  async tokenTotals(ids: string[]): Promise<Map<string, { total_requests: number; total_tokens_used: number }>> {
    const totals = new Map<string, { total_requests: number; total_tokens_used: number }>()
    if (ids.length === 0) return totals
    const rows = await this.rows(
      `SELECT token_id, sum(request_count) AS r, sum(total_tokens) AS t FROM usage_stats_daily
       WHERE token_id IN {ids:Array(String)} GROUP BY token_id`,
      { ids },
    )
    for (const r of rows) totals.set(String(r.token_id), { total_requests: num(r.r), total_tokens_used: num(r.t) })
    return totals
  }
}
