import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { GatewayError } from '../http/errors.ts'
import { parseWith } from '../http/body.ts'
import { LOG_SORT_COLUMNS, type RequestLogStore, type LogFilter, type LogSort, type RequestLog } from '../warehouse/request-logs.ts'
import { single, optional, queryObject, intParam, idParam, textParam, enumParam, boolParam, uuidParam, timeRangeShape, timeRange, pagingShape } from './query-params.ts'
import { sendDownload } from './download.ts'

const filterShape = {
  token_id: optional(idParam),
  account_id: optional(idParam),
  user_name: optional(textParam),
  mode: optional(enumParam(['api', 'web'])),
  model: optional(idParam),
  endpoint: optional(enumParam(['chat.completions', 'messages', 'count_tokens', 'models'])),
  success: optional(boolParam),
  status_code: optional(intParam(100, 599)),
  stream: optional(boolParam),
  ...timeRangeShape,
  sort: optional(enumParam(LOG_SORT_COLUMNS)),
  order: optional(single.transform((s) => s.toLowerCase()).pipe(z.enum(['asc', 'desc'], { error: 'must be asc or desc' }))),
}

const listQuery = queryObject({ ...filterShape, ...pagingShape })
const exportQuery = queryObject({ ...filterShape, format: optional(enumParam(['csv', 'json', 'jsonl'])) })

type FilterQuery = z.output<z.ZodObject<typeof filterShape>>

function filterOf(q: FilterQuery): { filter: LogFilter; sort: LogSort } {
  const filter: LogFilter = { ...timeRange(q) }
  for (const key of ['token_id', 'account_id', 'user_name', 'mode', 'model', 'endpoint', 'success', 'status_code', 'stream'] as const) {
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
