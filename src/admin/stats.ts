import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { GatewayError } from '../http/errors.ts'
import { parseWith } from '../http/body.ts'
import type { TokenStore } from '../warehouse/tokens.ts'
import { type StatsStore, addDays, utcDay, type DayRange, type StatsScope, type UsageFilter } from '../warehouse/stats.ts'
import { optional, queryObject, intParam, idParam, enumParam, calendarDay } from './query-params.ts'

export const MAX_DAYS = 366
/** Hourly trends read request_logs: at most this many days (744 points). */
export const MAX_HOUR_DAYS = 31

/** YYYY-MM-DD within what ClickHouse's Date holds. */
const dayParam = z.string({ error: 'must be given once' }).refine((s) => calendarDay(s, 1970, 2149) !== undefined, 'must be a date YYYY-MM-DD')

const daysParam = (fallback: number) => optional(intParam(1, MAX_DAYS)).transform((d) => d ?? fallback)

// days, or from_date/to_date (from/to accepted as the same), as the Go ccproxy's stats endpoints.
const rangeQuery = queryObject({
  days: optional(intParam(1, MAX_DAYS)),
  from_date: optional(dayParam),
  to_date: optional(dayParam),
  from: optional(dayParam),
  to: optional(dayParam),
})
const trendQuery = queryObject({ days: daysParam(30) })
const usageQuery = queryObject({
  ...rangeQuery.shape,
  granularity: optional(enumParam(['day', 'hour'])),
  token_id: optional(idParam),
  account_id: optional(idParam),
  model: optional(idParam),
})
const topQuery = queryObject({ days: daysParam(7), limit: optional(intParam(1, 100)).transform((l) => l ?? 10) })

/**
 * The days of a stats request (UTC): `days=N` → the last N days including today; from_date and to_date →
 * those days; only from_date → through today; only to_date → the 7 days ending then; nothing → the last 7
 * days including today.
 */
export function dayRange(q: z.output<typeof rangeQuery>, today = utcDay()): DayRange {
  if (q.from && q.from_date) throw new GatewayError(400, 'give from or from_date, not both', { param: 'from_date' })
  if (q.to && q.to_date) throw new GatewayError(400, 'give to or to_date, not both', { param: 'to_date' })
  const from = q.from_date ?? q.from
  const to = q.to_date ?? q.to
  if (q.days !== undefined && (from || to)) throw new GatewayError(400, 'give days or from_date/to_date, not both', { param: 'days' })
  if (q.days !== undefined) return { from: addDays(today, 1 - q.days), to: today }
  if (from && to) {
    if (from > to) throw new GatewayError(400, 'from_date must not be after to_date', { param: 'from_date' })
    return { from, to }
  }
  if (from) {
    if (from > today) throw new GatewayError(400, `from_date must not be after today (${today}) when to_date is not given`, { param: 'from_date' })
    return { from, to: today }
  }
  if (to) return { from: addDays(to, -6), to }
  return { from: addDays(today, -6), to: today }
}

const lastDays = (days: number, today = utcDay()): DayRange => ({ from: addDays(today, 1 - days), to: today })

const daysIn = (range: DayRange): number => (Date.parse(range.to) - Date.parse(range.from)) / 86_400_000 + 1

/**
 * GET /api/stats/tokens/:id, /tokens/:id/trend, /accounts/:id, /accounts/:id/trend, /overview, /realtime,
 * /top/tokens, /top/models, /usage. `tokens` answers overview's active_tokens and, with `accounts`, the
 * names in /usage.
 */
export function statsAdminRoutes(
  app: FastifyInstance,
  deps: { stats: StatsStore; tokens: TokenStore; accounts?: { list(): ReadonlyArray<{ id: string; name: string }> } },
): void {
  const stats = deps.stats
  const pathId = (value: string, what: string) => parseWith(z.object({ [what]: idParam }), { [what]: value })[what]!

  for (const kind of ['tokens', 'accounts'] as const) {
    const key = kind === 'tokens' ? 'token_id' : 'account_id'
    const scopeOf = (id: string): StatsScope => (kind === 'tokens' ? { token_id: id } : { account_id: id })

    app.get<{ Params: { id: string } }>(`/api/stats/${kind}/:id`, async (req) => {
      const id = pathId(req.params.id, key)
      const range = dayRange(parseWith(rangeQuery, req.query))
      return { [key]: id, from_date: range.from, to_date: range.to, ...(await stats.aggregate(scopeOf(id), range)) }
    })

    app.get<{ Params: { id: string } }>(`/api/stats/${kind}/:id/trend`, async (req) => {
      const id = pathId(req.params.id, key)
      const { days } = parseWith(trendQuery, req.query)
      return { [key]: id, days, trend: await stats.trend(scopeOf(id), lastDays(days)) }
    })
  }

  app.get('/api/stats/overview', async (req) => {
    const range = dayRange(parseWith(rangeQuery, req.query))
    const [overview, tokens] = await Promise.all([stats.overview(range), deps.tokens.list()])
    const now = Date.now()
    const active_tokens = tokens.filter((t) => !t.revoked_at && t.expires_at.getTime() > now).length
    const { total_requests, total_tokens, total_users, by_mode, by_model } = overview
    return { from_date: range.from, to_date: range.to, total_requests, total_tokens, total_users, active_tokens, by_mode, by_model }
  })

  app.get('/api/stats/usage', async (req) => {
    const q = parseWith(usageQuery, req.query)
    const range = dayRange(q)
    const granularity = q.granularity ?? 'day'
    if (daysIn(range) > MAX_DAYS) throw new GatewayError(400, `the range covers at most ${MAX_DAYS} days`, { param: 'from_date' })
    if (granularity === 'hour' && daysIn(range) > MAX_HOUR_DAYS) {
      throw new GatewayError(400, `granularity=hour covers at most ${MAX_HOUR_DAYS} days; use granularity=day for longer ranges`, { param: 'granularity' })
    }
    const filter: UsageFilter = {}
    for (const key of ['token_id', 'account_id', 'model'] as const) if (q[key] !== undefined) filter[key] = q[key]
    const breakdown = await stats.usageBreakdown(range, filter)
    const trend = await stats.usageTrend(range, filter, granularity)
    const tokenNames = breakdown.by_token.length > 0 ? new Map((await deps.tokens.list()).map((t) => [t.id, t.name])) : new Map<string, string>()
    const accountNames = new Map((deps.accounts?.list() ?? []).map((a) => [a.id, a.name]))
    return {
      from_date: range.from,
      to_date: range.to,
      granularity,
      totals: breakdown.totals,
      trend,
      by_model: breakdown.by_model,
      by_token: breakdown.by_token.map(({ token_id, ...rest }) => ({ token_id, name: tokenNames.get(token_id) ?? '', ...rest })),
      by_account: breakdown.by_account.map(({ account_id, ...rest }) => ({ account_id, name: accountNames.get(account_id) ?? '', ...rest })),
    }
  })

  app.get('/api/stats/realtime', async (req) => {
    parseWith(queryObject({}), req.query)
    return stats.realtime()
  })

  app.get('/api/stats/top/tokens', async (req) => {
    const { days, limit } = parseWith(topQuery, req.query)
    return { days, limit, tokens: await stats.topTokens(lastDays(days), limit) }
  })

  app.get('/api/stats/top/models', async (req) => {
    const { days, limit } = parseWith(topQuery, req.query)
    return { days, limit, models: await stats.topModels(lastDays(days), limit) }
  })
}
