import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { GatewayError } from '../gateway/errors.ts'
import { parseWith } from '../gateway/http.ts'
import { LOG_SORT_COLUMNS, type RequestLogStore, type LogFilter, type LogSort, type RequestLog } from '../warehouse/request-logs.ts'

// ── Query-string building blocks shared by the admin read APIs (logs, conversations, stats) ─────────────
//
// A query string value is a string, or an array when the parameter is repeated (a 400: it must be given
// once). An empty value counts as absent (an empty filter field in a form). Unknown parameters are a 400 too:
// a misspelt filter must not silently return everything.

const single = z.string({ error: 'must be given once' })

/** An optional parameter; '' is the same as absent. */
export const optional = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' ? undefined : v), schema.optional())

/** Rejects unknown parameters by name. */
export const queryObject = <T extends z.ZodRawShape>(shape: T) =>
  z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown query parameter ${issue.keys.join(', ')}` : undefined),
  })

/** An integer in [min, max]; anything else is a 400 that says the range. */
export const intParam = (min: number, max: number, rangeMessage = `must be an integer between ${min} and ${max}`) =>
  single
    .regex(/^-?\d{1,16}$/, rangeMessage)
    .transform(Number)
    .pipe(z.number().int().min(min, rangeMessage).max(max, rangeMessage))

/** Ids of tokens, accounts and models: printable, no quotes, spaces or SQL punctuation. */
const ID_CHARS = /^[A-Za-z0-9._:@/+\-[\]]+$/
export const idParam = single
  .max(200, 'must be at most 200 characters')
  .regex(ID_CHARS, 'must be an id (letters, digits and . _ : @ / + - [ ] only)')

/** Free text compared for equality (user names): any characters, bounded length; always a bound parameter. */
export const textParam = single.max(200, 'must be at most 200 characters')

export const enumParam = <const T extends readonly [string, ...string[]]>(values: T) =>
  single.pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` }))

const TRUE = new Set(['true', '1', 't', 'TRUE', 'True', 'T'])
const FALSE = new Set(['false', '0', 'f', 'FALSE', 'False', 'F'])
export const boolParam = single.transform((s, ctx) => {
  if (TRUE.has(s)) return true
  if (FALSE.has(s)) return false
  ctx.addIssue({ code: 'custom', message: 'must be true or false' })
  return z.NEVER
})

export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

/** A path id that must be a UUID (400 otherwise, before any query). */
export function uuidParam(value: string, what = 'id'): string {
  if (!UUID.test(value)) throw new GatewayError(400, `${what} must be a UUID`, { param: what })
  return value.toLowerCase()
}

// ── Time parameters ─────────────────────────────────────────────────────────────────────────────────────

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/
// RFC 3339 (a space may stand for the T; '+' arrives as a space when the client did not percent-encode it)
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+\- ]\d{2}:\d{2})$/
// what DateTime64(3) holds
const MIN_YEAR = 1900
const MAX_YEAR = 2299

/** 'YYYY-MM-DD' that names a real calendar day, or undefined. */
export function calendarDay(s: string, minYear = MIN_YEAR, maxYear = MAX_YEAR): Date | undefined {
  const m = DATE_ONLY.exec(s)
  if (!m) return undefined
  const year = Number(m[1])
  if (year < minYear || year > maxYear) return undefined
  const at = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3])))
  return at.toISOString().slice(0, 10) === s ? at : undefined
}

export interface Instant {
  at: Date
  /** given as YYYY-MM-DD: as an upper bound it means the whole day */
  dateOnly: boolean
}

/** RFC 3339 or YYYY-MM-DD (a UTC day). */
export const instantParam = single.transform((s, ctx): Instant => {
  const day = calendarDay(s)
  if (day) return { at: day, dateOnly: true }
  const m = DATE_TIME.exec(s)
  if (m && calendarDay(m[1]!) && Number(m[2]) <= 23 && Number(m[3]) <= 59 && Number(m[4]) <= 59) {
    const offset = m[6]!.toUpperCase() === 'Z' ? 'Z' : `${m[6]!.startsWith('-') ? '-' : '+'}${m[6]!.slice(1)}`
    const offsetOk = offset === 'Z' || (Number(offset.slice(1, 3)) <= 23 && Number(offset.slice(4, 6)) <= 59)
    const at = new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}${(m[5] ?? '').slice(0, 4)}${offset}`)
    if (offsetOk && !Number.isNaN(at.getTime())) {
      const year = at.getUTCFullYear()
      if (year >= MIN_YEAR && year <= MAX_YEAR) return { at, dateOnly: false }
    }
  }
  ctx.addIssue({ code: 'custom', message: 'must be an RFC 3339 time (2025-01-31T12:00:00Z) or a date (2025-01-31)' })
  return z.NEVER
})

/** from/to and the Go API's from_date/to_date. */
export const timeRangeShape = {
  from: optional(instantParam),
  to: optional(instantParam),
  from_date: optional(instantParam),
  to_date: optional(instantParam),
}

/**
 * The half-open range [from, before) of from/to: `to` is inclusive — a whole day when it is a date, to the
 * millisecond when it is a time.
 */
export function timeRange(q: { from?: Instant | undefined; to?: Instant | undefined; from_date?: Instant | undefined; to_date?: Instant | undefined }): {
  from?: Date
  before?: Date
} {
  if (q.from && q.from_date) throw new GatewayError(400, 'give from or from_date, not both', { param: 'from_date' })
  if (q.to && q.to_date) throw new GatewayError(400, 'give to or to_date, not both', { param: 'to_date' })
  const from = q.from ?? q.from_date
  const to = q.to ?? q.to_date
  const range: { from?: Date; before?: Date } = {}
  if (from) range.from = from.at
  if (to) range.before = new Date(to.at.getTime() + (to.dateOnly ? 86_400_000 : 1))
  if (range.from && range.before && range.from.getTime() >= range.before.getTime()) {
    throw new GatewayError(400, 'from must not be after to', { param: 'from' })
  }
  return range
}

// ── Paging ──────────────────────────────────────────────────────────────────────────────────────────────

export const MAX_LIMIT = 1000
export const MAX_PAGE = 10_000_000
export const pagingShape = {
  page: optional(intParam(0, MAX_PAGE, `must be an integer from 0 to ${MAX_PAGE} (pages count from 0)`)),
  limit: optional(intParam(1, MAX_LIMIT)),
}

// ── Downloads ───────────────────────────────────────────────────────────────────────────────────────────

export type DownloadFormat = 'csv' | 'json' | 'jsonl'

const CONTENT_TYPES: Record<DownloadFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  jsonl: 'application/x-ndjson; charset=utf-8',
}

const CHUNK_CHARS = 64 * 1024

/** request_logs_20250131_120000 (UTC), as the Go ccproxy named its downloads. */
export function downloadName(base: string, format: DownloadFormat, at = new Date()): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15)
  return `${base}_${stamp}.${format}`
}

/** A CSV field: quoted when needed; text that a spreadsheet would run as a formula gets a leading '. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return ''
  let s = String(v)
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/**
 * Streams rows as a download. The first row is fetched before any byte is sent, so a failing query is still
 * an ordinary error response; after that, rows go out in ~64 KiB chunks as the database produces them, with
 * the socket's backpressure reaching back to the query. When the client goes away, fastify destroys the
 * body stream, which returns the row generator, which destroys the ClickHouse result stream and aborts it.
 */
export async function sendDownload<T>(
  reply: FastifyReply,
  rows: AsyncGenerator<T, void, undefined>,
  opts: { format: DownloadFormat; basename: string; csv?: { header: readonly string[]; values: (row: T) => unknown[] } },
): Promise<FastifyReply> {
  const { format } = opts
  let first: IteratorResult<T, void>
  try {
    first = await rows.next()
  } catch (err) {
    await rows.return(undefined)
    throw err
  }
  const line = (row: T, index: number): string => {
    switch (format) {
      case 'csv':
        return opts.csv!.values(row).map(csvField).join(',') + '\n'
      case 'json':
        return (index === 0 ? '\n' : ',\n') + JSON.stringify(row)
      case 'jsonl':
        return JSON.stringify(row) + '\n'
    }
  }
  const head = format === 'csv' ? opts.csv!.header.join(',') + '\n' : format === 'json' ? '[' : ''
  async function* chunks(): AsyncGenerator<string, void, undefined> {
    let buffer = head
    let index = 0
    let empty = true
    try {
      if (!first.done) {
        empty = false
        buffer += line(first.value, index++)
        for await (const row of rows) {
          buffer += line(row, index++)
          if (buffer.length >= CHUNK_CHARS) {
            yield buffer
            buffer = ''
          }
        }
      }
      if (format === 'json') buffer += empty ? ']\n' : '\n]\n'
      if (buffer) yield buffer
    } finally {
      await rows.return(undefined)
    }
  }
  if (format === 'csv' && !opts.csv) throw new Error('csv download without columns')
  reply
    .header('content-type', CONTENT_TYPES[format])
    .header('content-disposition', `attachment; filename=${downloadName(opts.basename, format)}`)
    .header('cache-control', 'no-store')
  return reply.send(Readable.from(chunks(), { objectMode: false }))
}

// ── Request logs ────────────────────────────────────────────────────────────────────────────────────────

const filterShape = {
  token_id: optional(idParam),
  account_id: optional(idParam),
  user_name: optional(textParam),
  mode: optional(enumParam(['api', 'web'])),
  model: optional(idParam),
  endpoint: optional(enumParam(['chat.completions', 'messages', 'count_tokens', 'models'])),
  success: optional(boolParam),
  status_code: optional(intParam(100, 599)),
  ...timeRangeShape,
  sort: optional(enumParam(LOG_SORT_COLUMNS)),
  order: optional(single.transform((s) => s.toLowerCase()).pipe(z.enum(['asc', 'desc'], { error: 'must be asc or desc' }))),
}

const listQuery = queryObject({ ...filterShape, ...pagingShape })
const exportQuery = queryObject({ ...filterShape, format: optional(enumParam(['csv', 'json', 'jsonl'])) })

type FilterQuery = z.output<z.ZodObject<typeof filterShape>>

function filterOf(q: FilterQuery): { filter: LogFilter; sort: LogSort } {
  const filter: LogFilter = { ...timeRange(q) }
  for (const key of ['token_id', 'account_id', 'user_name', 'mode', 'model', 'endpoint', 'success', 'status_code'] as const) {
    if (q[key] !== undefined) (filter as Record<string, unknown>)[key] = q[key]
  }
  return { filter, sort: { by: q.sort ?? 'request_at', order: q.order ?? 'desc' } }
}

const CSV_COLUMNS: ReadonlyArray<readonly [header: string, key: keyof RequestLog]> = [
  // the Go ccproxy's header, then the newer columns in the same style
  ['ID', 'id'], ['TokenID', 'token_id'], ['AccountID', 'account_id'], ['UserName', 'user_name'], ['Mode', 'mode'],
  ['Model', 'model'], ['Stream', 'stream'], ['RequestAt', 'request_at'], ['ResponseAt', 'response_at'],
  ['DurationMs', 'duration_ms'], ['TTFTMs', 'ttft_ms'], ['PromptTokens', 'prompt_tokens'],
  ['CompletionTokens', 'completion_tokens'], ['TotalTokens', 'total_tokens'], ['StatusCode', 'status_code'],
  ['Success', 'success'], ['ErrorMessage', 'error_message'], ['ConversationID', 'conversation_id'],
  ['Endpoint', 'endpoint'], ['ResponseModel', 'response_model'], ['ErrorType', 'error_type'], ['StopReason', 'stop_reason'],
  ['CacheCreationTokens', 'cache_creation_tokens'], ['CacheReadTokens', 'cache_read_tokens'], ['Retries', 'retries'],
  ['ClientIP', 'client_ip'], ['UserAgent', 'user_agent'], ['UpstreamRequestID', 'upstream_request_id'], ['HasContent', 'has_content'], ['TraceID', 'trace_id'], ['SpanID', 'span_id'],
]

/** GET /api/logs/requests, /api/logs/requests/:id, /api/logs/requests/export */
export function logAdminRoutes(app: FastifyInstance, deps: { requestLogs: RequestLogStore }): void {
  const store = deps.requestLogs

  app.get('/api/logs/requests', async (req) => {
    const q = parseWith(listQuery, req.query)
    const { filter, sort } = filterOf(q)
    const page = q.page ?? 0
    const limit = q.limit ?? 50
    const { logs, total } = await store.list(filter, sort, page, limit)
    return { logs, total, page, limit }
  })

  app.get('/api/logs/requests/export', async (req, reply) => {
    const q = parseWith(exportQuery, req.query)
    const { filter, sort } = filterOf(q)
    const format = q.format ?? 'csv'
    return sendDownload(reply, store.exportRows(filter, sort), {
      format,
      basename: 'request_logs',
      csv: { header: CSV_COLUMNS.map(([h]) => h), values: (log) => CSV_COLUMNS.map(([, key]) => log[key]) },
    })
  })

  app.get<{ Params: { id: string } }>('/api/logs/requests/:id', async (req) => {
    const log = await store.get(uuidParam(req.params.id))
    if (!log) throw new GatewayError(404, 'request log not found')
    return log
  })
}
