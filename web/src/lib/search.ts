// What each page is looking at lives in the URL (filters, search, sort, page, range), so a reload or a shared
// link shows the same view. These validators turn whatever the URL holds into a well-formed state — a
// hand-edited or stale link drops the bad part instead of breaking the page — and map it to API queries.

import type { Query } from '../api/client.ts'
import { addDays, utcToday } from './format.ts'

type Raw = Record<string, unknown>

const ID = /^[A-Za-z0-9._:@/+\-[\]]{1,200}$/
const DAY = /^\d{4}-\d{2}-\d{2}$/

/** The router parses `?page=2` as a number and `?stream=true` as a boolean; ids and text stay strings. */
function text(value: unknown, max = 200): string | undefined {
  if (typeof value === 'number' || typeof value === 'boolean') value = String(value)
  if (typeof value !== 'string') return undefined
  const trimmed = value.trim()
  return trimmed && [...trimmed].length <= max ? trimmed : undefined
}
const id = (value: unknown) => {
  const s = text(value)
  return s && ID.test(s) ? s : undefined
}
const day = (value: unknown) => {
  const s = text(value)
  return s && DAY.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) ? s : undefined
}
function int(value: unknown, min: number, max: number): number | undefined {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? n : undefined
}
function oneOf<T extends string>(value: unknown, values: readonly T[]): T | undefined {
  const s = text(value)
  return values.find((v) => v === s)
}
/** Drops the undefined keys, so default views have clean URLs. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
/** from/to in order: a range whose start is after its end keeps only the start. */
function orderedRange(from: string | undefined, to: string | undefined) {
  return from && to && from > to ? { from, to: undefined } : { from, to }
}

export const PAGE_SIZES = [25, 50, 100] as const
export const DEFAULT_PAGE_SIZE = 50

// ── Request logs ────────────────────────────────────────────────────────────────────────────────────────

export const LOG_SORTS = ['request_at', 'model', 'status_code', 'duration_ms', 'prompt_tokens', 'completion_tokens', 'total_tokens'] as const
export type LogSortColumn = (typeof LOG_SORTS)[number]

export interface LogSearch {
  token?: string
  account?: string
  model?: string
  /** success or failure */
  status?: 'success' | 'error'
  /** one HTTP status code */
  code?: number
  stream?: 'true' | 'false'
  from?: string
  to?: string
  sort?: LogSortColumn
  order?: 'asc' | 'desc'
  /** 0-based, as the API counts */
  page?: number
  limit?: number
}

export function validateLogSearch(raw: Raw): LogSearch {
  const limit = int(raw.limit, 1, 1000)
  return compact({
    token: id(raw.token),
    account: id(raw.account),
    model: id(raw.model),
    status: oneOf(raw.status, ['success', 'error'] as const),
    code: int(raw.code, 100, 599),
    stream: oneOf(raw.stream, ['true', 'false'] as const),
    ...orderedRange(day(raw.from), day(raw.to)),
    sort: oneOf(raw.sort, LOG_SORTS),
    order: oneOf(raw.order, ['asc', 'desc'] as const),
    page: int(raw.page, 0, 10_000_000),
    limit: limit !== undefined && (PAGE_SIZES as readonly number[]).includes(limit) ? limit : undefined,
  })
}

/** The filters of a log view as the API names them (for the list and the export alike). */
export function logFilterQuery(s: LogSearch): Query {
  return {
    token_id: s.token,
    account_id: s.account,
    model: s.model,
    success: s.status === undefined ? undefined : s.status === 'success',
    status_code: s.code,
    stream: s.stream,
    from: s.from,
    to: s.to,
    sort: s.sort,
    order: s.order,
  }
}

export function logListQuery(s: LogSearch): Query {
  return { ...logFilterQuery(s), page: s.page ?? 0, limit: s.limit ?? DEFAULT_PAGE_SIZE }
}

/** The search with one filter changed: any filter change starts again at the first page. */
export function withFilter<T extends { page?: number }>(search: T, patch: Partial<T>): T {
  return compact({ ...search, ...patch, page: undefined })
}

export const hasLogFilters = (s: LogSearch) =>
  [s.token, s.account, s.model, s.status, s.code, s.stream, s.from, s.to].some((v) => v !== undefined)

// ── Conversations ───────────────────────────────────────────────────────────────────────────────────────

export interface ConversationSearch {
  q?: string
  token?: string
  model?: string
  from?: string
  to?: string
  page?: number
}

export function validateConversationSearch(raw: Raw): ConversationSearch {
  return compact({
    q: text(raw.q),
    token: id(raw.token),
    model: id(raw.model),
    ...orderedRange(day(raw.from), day(raw.to)),
    page: int(raw.page, 0, 10_000_000),
  })
}

export function conversationListQuery(s: ConversationSearch, limit = DEFAULT_PAGE_SIZE): Query {
  return { q: s.q, token_id: s.token, model: s.model, from: s.from, to: s.to, page: s.page ?? 0, limit }
}

export const hasConversationFilters = (s: ConversationSearch) => [s.q, s.token, s.model, s.from, s.to].some((v) => v !== undefined)

// ── Usage ───────────────────────────────────────────────────────────────────────────────────────────────

export const USAGE_PRESETS = ['today', '7d', '30d', 'custom'] as const
export type UsagePreset = (typeof USAGE_PRESETS)[number]
export const MAX_HOURLY_DAYS = 31

export interface UsageSearch {
  range?: UsagePreset
  from?: string
  to?: string
  granularity?: 'day' | 'hour'
}

export function validateUsageSearch(raw: Raw): UsageSearch {
  const range = oneOf(raw.range, USAGE_PRESETS)
  return compact({
    range,
    // a custom range only: presets are relative to today, so a shared link stays "the last 7 days"
    ...(range === 'custom' ? orderedRange(day(raw.from), day(raw.to)) : {}),
    granularity: oneOf(raw.granularity, ['day', 'hour'] as const),
  })
}

/** The days a usage view covers (UTC), inclusive. The default is the last 7 days. */
export function usageDays(s: UsageSearch, today = utcToday()): { from: string; to: string } {
  switch (s.range) {
    case 'today':
      return { from: today, to: today }
    case '30d':
      return { from: addDays(today, -29), to: today }
    case 'custom': {
      const to = s.to ?? today
      return { from: s.from ?? addDays(to, -6), to }
    }
    default:
      return { from: addDays(today, -6), to: today }
  }
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1
}

/** Hourly buckets for one day by default, by day otherwise; hours only for ranges the API allows. */
export function usageGranularity(s: UsageSearch, today = utcToday()): 'day' | 'hour' {
  const { from, to } = usageDays(s, today)
  const span = daysBetween(from, to)
  const wanted = s.granularity ?? (span === 1 ? 'hour' : 'day')
  return wanted === 'hour' && span <= MAX_HOURLY_DAYS ? 'hour' : 'day'
}

export function usageQuery(s: UsageSearch, today = utcToday()): Query {
  const { from, to } = usageDays(s, today)
  return { from, to, granularity: usageGranularity(s, today) }
}
