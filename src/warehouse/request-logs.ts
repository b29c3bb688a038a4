import type { ClickHouseClient } from '@clickhouse/client'
import type { Endpoint } from '../record/request-record.ts'
import { fromClickHouseTime, toClickHouseTime } from './time.ts'

/**
 * Reads of request_logs for the admin API. Every value is a bound `{name:Type}` parameter; the only
 * identifiers spliced into SQL (sort column, direction) come from the fixed maps below, never from input.
 *
 * Cost: the table is ORDER BY (token_id, request_at) with a minmax index on request_at, so a token filter
 * reads one contiguous range and a time range skips granules; "newest first" over everything uses the
 * top-K granule filter on that index and reads the wide columns lazily for the page's rows only.
 */

export const LOG_SORT_COLUMNS = ['request_at', 'duration_ms', 'total_tokens', 'prompt_tokens', 'completion_tokens', 'status_code', 'model'] as const
export type LogSortColumn = (typeof LOG_SORT_COLUMNS)[number]
export type SortOrder = 'asc' | 'desc'
export interface LogSort {
  by: LogSortColumn
  order: SortOrder
}

export interface LogFilter {
  token_id?: string
  account_id?: string
  user_name?: string
  mode?: 'api' | 'web'
  model?: string
  endpoint?: Endpoint
  success?: boolean
  status_code?: number
  stream?: boolean
  /** request_at at or after (inclusive) */
  from?: Date
  /** request_at strictly before (exclusive) */
  before?: Date
}

/** A request log as the admin API shows it: the Go ccproxy's DTO fields first, then the newer columns. */
export interface RequestLog {
  id: string
  token_id: string
  account_id: string
  user_name: string
  mode: string
  model: string
  stream: boolean
  request_at: string
  response_at: string
  duration_ms: number
  ttft_ms: number | null
  prompt_tokens: number
  completion_tokens: number
  total_tokens: number
  status_code: number
  success: boolean
  error_message: string
  conversation_id: string
  endpoint: string
  response_model: string
  error_type: string
  stop_reason: string
  cache_creation_tokens: number
  cache_read_tokens: number
  retries: number
  client_ip: string
  user_agent: string
  upstream_request_id: string
  has_content: boolean
  /** the request's OpenTelemetry trace and span ('' without tracing) */
  trace_id: string
  span_id: string
}

export interface RequestLogDetail extends RequestLog {
  /** the id of its conversation_contents row, when the content is (still) stored */
  conversation_content_id?: string
}

const LOG_COLUMNS = [
  'id', 'token_id', 'account_id', 'user_name', 'mode', 'model', 'stream', 'request_at', 'response_at',
  'duration_ms', 'ttft_ms', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'status_code', 'success',
  'error_message', 'conversation_id', 'endpoint', 'response_model', 'error_type', 'stop_reason',
  'cache_creation_tokens', 'cache_read_tokens', 'retries', 'client_ip', 'user_agent', 'upstream_request_id',
  'has_content', 'trace_id', 'span_id',
] as const

type StoredLog = Record<(typeof LOG_COLUMNS)[number], unknown>

// The allow-lists: the only text from a request that can shape the SQL is a key of these maps.
const SORT_SQL: Record<LogSortColumn, string> = {
  request_at: 'request_at',
  duration_ms: 'duration_ms',
  total_tokens: 'total_tokens',
  prompt_tokens: 'prompt_tokens',
  completion_tokens: 'completion_tokens',
  status_code: 'status_code',
  model: 'model',
}
const ORDER_SQL: Record<SortOrder, string> = { asc: 'ASC', desc: 'DESC' }

/** ORDER BY for a sort, with tie-breakers so pages never overlap or skip rows. */
export function orderBy(sort: LogSort): string {
  const column = SORT_SQL[sort.by]
  const direction = ORDER_SQL[sort.order]
  if (!column || !direction) throw new Error(`unsupported sort ${String(sort.by)} ${String(sort.order)}`)
  const keys = [`${column} ${direction}`]
  if (column !== 'request_at') keys.push(`request_at ${direction}`)
  keys.push(`id ${direction}`)
  return keys.join(', ')
}

/** A WHERE clause built from bound parameters only. */
export class Conditions {
  readonly parts: string[] = []
  readonly params: Record<string, unknown> = {}

  /** `column <op> {pN:type}`; the column and type are literals of the calling code, the value is bound. */
  add(column: string, op: '=' | '>=' | '<' | '<=', type: string, value: unknown): this {
    const name = `p${Object.keys(this.params).length}`
    this.params[name] = value
    this.parts.push(`${column} ${op} {${name}:${type}}`)
    return this
  }

  /** A condition with named placeholders of its own (`{name:Type}`), values bound. */
  raw(sql: string, params: Record<string, unknown> = {}): this {
    this.parts.push(sql)
    Object.assign(this.params, params)
    return this
  }

  sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : ''
  }
}

export const TIME_TYPE = "DateTime64(3, 'UTC')"

function logConditions(f: LogFilter): Conditions {
  const c = new Conditions()
  if (f.token_id !== undefined) c.add('token_id', '=', 'String', f.token_id)
  if (f.from !== undefined) c.add('request_at', '>=', TIME_TYPE, toClickHouseTime(f.from))
  if (f.before !== undefined) c.add('request_at', '<', TIME_TYPE, toClickHouseTime(f.before))
  if (f.account_id !== undefined) c.add('account_id', '=', 'String', f.account_id)
  if (f.user_name !== undefined) c.add('user_name', '=', 'String', f.user_name)
  if (f.mode !== undefined) c.add('mode', '=', 'String', f.mode)
  if (f.model !== undefined) c.add('model', '=', 'String', f.model)
  if (f.endpoint !== undefined) c.add('endpoint', '=', 'String', f.endpoint)
  if (f.success !== undefined) c.add('success', '=', 'Bool', f.success)
  if (f.status_code !== undefined) c.add('status_code', '=', 'UInt16', f.status_code)
  if (f.stream !== undefined) c.add('stream', '=', 'Bool', f.stream)
  return c
}

/** ClickHouse time text ('YYYY-MM-DD HH:MM:SS.mmm', UTC) as ISO-8601 UTC. */
export const isoTime = (s: unknown): string => fromClickHouseTime(String(s)).toISOString()

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v))
const bool = (v: unknown): boolean => v === true || v === 1 || v === '1' || v === 'true'
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v))

function toLog(r: StoredLog): RequestLog {
  return {
    id: str(r.id),
    token_id: str(r.token_id),
    account_id: str(r.account_id),
    user_name: str(r.user_name),
    mode: str(r.mode),
    model: str(r.model),
    stream: bool(r.stream),
    request_at: isoTime(r.request_at),
    response_at: isoTime(r.response_at),
    duration_ms: num(r.duration_ms),
    ttft_ms: r.ttft_ms === null || r.ttft_ms === undefined ? null : Number(r.ttft_ms),
    prompt_tokens: num(r.prompt_tokens),
    completion_tokens: num(r.completion_tokens),
    total_tokens: num(r.total_tokens),
    status_code: num(r.status_code),
    success: bool(r.success),
    error_message: str(r.error_message),
    conversation_id: str(r.conversation_id),
    endpoint: str(r.endpoint),
    response_model: str(r.response_model),
    error_type: str(r.error_type),
    stop_reason: str(r.stop_reason),
    cache_creation_tokens: num(r.cache_creation_tokens),
    cache_read_tokens: num(r.cache_read_tokens),
    retries: num(r.retries),
    client_ip: str(r.client_ip),
    user_agent: str(r.user_agent),
    upstream_request_id: str(r.upstream_request_id),
    has_content: bool(r.has_content),
    trace_id: str(r.trace_id),
    span_id: str(r.span_id),
  }
}

/**
 * Streams a query's JSONEachRow rows. Stopping early (a `break`, or `return()` when the consumer goes
 * away) destroys the result stream and aborts the request, so the server stops producing rows; rows are
 * pulled chunk by chunk, so a slow consumer holds back the server instead of filling memory.
 */
export async function* streamRows<T>(
  client: ClickHouseClient,
  query: string,
  query_params: Record<string, unknown>,
): AsyncGenerator<T, void, undefined> {
  const controller = new AbortController()
  let finished = false
  try {
    const rs = await client.query({ query, query_params, format: 'JSONEachRow', abort_signal: controller.signal })
    const stream = rs.stream<T>()
    try {
      for await (const rows of stream) {
        for (const row of rows) yield row.json()
      }
      finished = true
    } finally {
      if (!finished) stream.destroy()
    }
  } finally {
    if (!finished) controller.abort()
  }
}

/** request_logs reads: the paged list, one log, and the streamed export. */
export class RequestLogStore {
  constructor(private readonly client: ClickHouseClient) {}

  /** One page (0-based) and the number of rows matching the filter. */
  async list(filter: LogFilter, sort: LogSort, page: number, limit: number): Promise<{ logs: RequestLog[]; total: number }> {
    const where = logConditions(filter)
    const [rows, count] = await Promise.all([
      this.client
        .query({
          query: `SELECT ${LOG_COLUMNS.join(', ')} FROM request_logs ${where.sql()}
                  ORDER BY ${orderBy(sort)} LIMIT {limit:UInt32} OFFSET {offset:UInt64}`,
          query_params: { ...where.params, limit, offset: page * limit },
          format: 'JSONEachRow',
        })
        .then((rs) => rs.json<StoredLog>()),
      this.client
        .query({ query: `SELECT count() AS total FROM request_logs ${where.sql()}`, query_params: where.params, format: 'JSONEachRow' })
        .then((rs) => rs.json<{ total: string }>()),
    ])
    return { logs: rows.map(toLog), total: num(count[0]?.total) }
  }

  /** One log by id (the bloom filter on id finds its granule), with its conversation's id when stored. */
  async get(id: string): Promise<RequestLogDetail | undefined> {
    const rs = await this.client.query({
      query: `SELECT ${LOG_COLUMNS.join(', ')} FROM request_logs WHERE id = {id:UUID} LIMIT 1`,
      query_params: { id },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<StoredLog>()
    if (!row) return undefined
    const log: RequestLogDetail = toLog(row)
    if (log.has_content) {
      const content = await this.client.query({
        query: `SELECT id FROM conversation_contents
                WHERE token_id = {token_id:String} AND request_log_id = {id:UUID} LIMIT 1`,
        query_params: { token_id: log.token_id, id },
        format: 'JSONEachRow',
      })
      const [found] = await content.json<{ id: string }>()
      if (found) log.conversation_content_id = found.id
    }
    return log
  }

  /**
   * Every matching log, in order (no row cap). Read in keyset-paged chunks, each streamed: after a chunk,
   * the next starts strictly after the last row's (sort column, request_at, id). A chunk bounds what any
   * one query holds — the embedded engine materializes a result before handing it over — and each chunk
   * is cheap: the top-K and minmax filters apply to it as to a page of the list.
   */
  async *exportRows(filter: LogFilter, sort: LogSort, opts: { chunkRows?: number } = {}): AsyncGenerator<RequestLog, void, undefined> {
    const chunkRows = opts.chunkRows ?? EXPORT_CHUNK_ROWS
    let last: StoredLog | undefined
    for (;;) {
      const where = logConditions(filter)
      if (last) where.raw(...afterRow(sort, last))
      const query = `SELECT ${LOG_COLUMNS.join(', ')} FROM request_logs ${where.sql()} ORDER BY ${orderBy(sort)} LIMIT {chunk_rows:UInt32}`
      let n = 0
      for await (const row of streamRows<StoredLog>(this.client, query, { ...where.params, chunk_rows: chunkRows })) {
        n++
        last = row
        yield toLog(row)
      }
      if (n < chunkRows) return
    }
  }
}

export const EXPORT_CHUNK_ROWS = 20_000

const SORT_TYPES: Record<LogSortColumn, string> = {
  request_at: TIME_TYPE,
  duration_ms: 'UInt32',
  total_tokens: 'UInt32',
  prompt_tokens: 'UInt32',
  completion_tokens: 'UInt32',
  status_code: 'UInt16',
  model: 'String',
}

/** "Strictly after this row" in the order of `sort` (the keyset of orderBy), as bound parameters. */
function afterRow(sort: LogSort, row: StoredLog): [string, Record<string, unknown>] {
  const op = sort.order === 'asc' ? '>' : '<'
  const at = `{after_at:${TIME_TYPE}}`
  const params: Record<string, unknown> = { after_at: row.request_at, after_id: row.id }
  if (sort.by === 'request_at') {
    // the plain bound on request_at is implied by the tuple; it is there for the minmax index
    return [`request_at ${op}= ${at} AND (request_at, id) ${op} (${at}, {after_id:UUID})`, params]
  }
  const column = SORT_SQL[sort.by]
  params.after_value = row[sort.by]
  return [`(${column}, request_at, id) ${op} ({after_value:${SORT_TYPES[sort.by]}}, ${at}, {after_id:UUID})`, params]
}
