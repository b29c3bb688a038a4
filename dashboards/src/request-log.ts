import { anyOf, clickhouse, clickhouseDatasourceVariable, multiClickhouseVariable } from './datasources.ts'
import { conversationLink, linkVariables, numberPanels, stat, timeSeries, requestTable } from './panels.ts'
import { ccproxyDashboard, uids } from './skeleton.ts'

const filters = [
  '$__timeFilter(request_at)',
  anyOf('token_id', 'token'),
  anyOf('model', 'model'),
  anyOf('endpoint', 'endpoint'),
  anyOf('toString(status_code)', 'status'),
].join(' AND ')

// The variables offer what occurs in the chosen range, so every choice matches something.
const distinct = (expr: string) => `SELECT DISTINCT ${expr} FROM request_logs WHERE $__timeFilter(request_at) ORDER BY 1`

export function requestLogExplorer() {
  const dashboard = ccproxyDashboard(
    uids.requests,
    'Request log',
    'Every recorded request, filtered by token, model, endpoint and status. The id opens the request in the ccproxy admin app, conversation_content_id its conversation (tokens with conversation logging on), trace_id its trace.',
    { from: 'now-1h', refresh: '1m' },
  )
    .withVariable(clickhouseDatasourceVariable())
    .withVariable(
      multiClickhouseVariable(
        'token',
        'Token',
        "SELECT DISTINCT token_id, concat(user_name, ' (', token_id, ')') FROM request_logs WHERE $__timeFilter(request_at) ORDER BY token_id",
      ),
    )
    .withVariable(multiClickhouseVariable('model', 'Model', distinct('model')))
    .withVariable(multiClickhouseVariable('endpoint', 'Endpoint', distinct('endpoint')))
    .withVariable(multiClickhouseVariable('status', 'Status', distinct('toString(status_code)')))
  for (const v of linkVariables()) dashboard.withVariable(v)
  return numberPanels(
    dashboard
      .withPanel(stat('Matching requests', clickhouse(`SELECT count() AS requests, countIf(NOT success) AS failed FROM request_logs WHERE ${filters}`)).span(6))
      .withPanel(
        timeSeries('Requests by status class', [
          clickhouse(
            `SELECT $__timeInterval(request_at) AS time, concat(toString(intDiv(status_code, 100)), 'xx') AS status, count() AS requests FROM request_logs WHERE ${filters} GROUP BY time, status ORDER BY time`,
          ).timeSeries(),
        ])
          .height(4)
          .span(18),
      )
      .withPanel(
        requestTable(
          'Requests',
          // conversation_contents rows carry their request's time, so the same range finds them.
          clickhouse(
            `SELECT r.request_at AS request_at, r.id AS id, r.user_name AS user_name, r.token_id AS token_id, r.endpoint AS endpoint, r.mode AS mode, r.model AS model, r.stream AS stream, r.status_code AS status_code, r.error_type AS error_type, r.error_message AS error_message, r.duration_ms AS duration_ms, r.ttft_ms AS ttft_ms, r.prompt_tokens AS input_tokens, r.completion_tokens AS output_tokens, r.cache_read_tokens AS cache_read_tokens, r.account_id AS account_id, r.retries AS retries, r.trace_id AS trace_id, if(r.has_content, toString(c.id), '') AS conversation_content_id FROM request_logs AS r LEFT JOIN (SELECT id, request_log_id FROM conversation_contents WHERE $__timeFilter(created_at)) AS c ON c.request_log_id = r.id WHERE ${filters} ORDER BY r.request_at DESC LIMIT 1000`,
          ),
        )
          .description('Newest first, at most 1000 rows: narrow the time range or the filters to see older ones.')
          .overrideByName('conversation_content_id', [conversationLink])
          .height(20),
      )
      .build(),
  )
}
