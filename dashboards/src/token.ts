import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
import { clickhouse, clickhouseDatasourceVariable, clickhouseVariable } from './datasources.ts'
import { linkVariables, numberPanels, stat, table, timeSeries, usageStats, requestTable } from './panels.ts'
import { ccproxyDashboard, uids } from './skeleton.ts'

// request_logs is sorted by (token_id, request_at): one token over a time range is one contiguous read.
const requests = 'token_id = ${token:sqlstring} AND $__timeFilter(request_at)'
const days = 'token_id = ${token:sqlstring} AND $__dateFilter(stat_date)'

export function tokenDashboard() {
  const stats = usageStats(requests)
  const dashboard = ccproxyDashboard(uids.token, 'Token', "One client token: its usage, latency, errors and most recent requests.", { from: 'now-24h', refresh: '1m' })
    .withVariable(clickhouseDatasourceVariable())
    // value = the token id, text = who it belongs to
    .withVariable(
      clickhouseVariable(
        'token',
        'Token',
        "SELECT DISTINCT token_id, concat(user_name, ' (', token_id, ')') FROM request_logs WHERE $__timeFilter(request_at) ORDER BY token_id",
      ),
    )
  for (const v of linkVariables()) dashboard.withVariable(v)
  return numberPanels(
    dashboard
      .withRow(new RowBuilder('Usage'))
      .withPanel(stats.requests)
      .withPanel(stats.successRate)
      .withPanel(stats.tokens)
      .withPanel(
        stat('Latency', clickhouse(`SELECT quantile(0.5)(duration_ms) AS p50, quantile(0.95)(duration_ms) AS p95, avg(ttft_ms) AS avg_ttft FROM request_logs WHERE ${requests}`), 'ms').span(8),
      )
      .withPanel(
        timeSeries('Requests over time', [
          clickhouse(
            `SELECT $__timeInterval(request_at) AS time, countIf(success) AS succeeded, countIf(NOT success) AS failed FROM request_logs WHERE ${requests} GROUP BY time ORDER BY time`,
          ).timeSeries(),
        ]),
      )
      .withPanel(
        timeSeries('Tokens over time', [
          clickhouse(
            `SELECT $__timeInterval(request_at) AS time, sum(prompt_tokens) AS input, sum(completion_tokens) AS output, sum(cache_read_tokens) AS cache_read FROM request_logs WHERE ${requests} GROUP BY time ORDER BY time`,
          ).timeSeries(),
        ]),
      )
      .withPanel(
        timeSeries(
          'Latency over time',
          [
            clickhouse(
              `SELECT $__timeInterval(request_at) AS time, quantile(0.5)(duration_ms) AS duration_p50, quantile(0.95)(duration_ms) AS duration_p95, quantile(0.95)(ttft_ms) AS ttft_p95 FROM request_logs WHERE ${requests} GROUP BY time ORDER BY time`,
            ).timeSeries(),
          ],
          'ms',
        ),
      )
      .withPanel(
        table(
          'Errors',
          clickhouse(
            `SELECT error_type, status_code, count() AS requests, max(request_at) AS last_seen, argMax(error_message, request_at) AS last_message FROM request_logs WHERE ${requests} AND NOT success GROUP BY error_type, status_code ORDER BY requests DESC`,
          ),
        )
          .span(12)
          .height(8),
      )
      .withPanel(
        table(
          'Daily usage',
          clickhouse(
            `SELECT stat_date AS day, sum(request_count) AS requests, sum(error_count) AS errors, sum(prompt_tokens) AS input_tokens, sum(completion_tokens) AS output_tokens, sum(duration_ms_sum) / sum(request_count) AS avg_duration_ms, quantilesMerge(0.5, 0.95, 0.99)(duration_quantiles)[2] AS p95_duration_ms FROM usage_stats_daily WHERE ${days} GROUP BY stat_date ORDER BY stat_date DESC`,
          ),
        )
          .description('From usage_stats_daily: whole UTC days, percentiles merged from the daily states.')
          .height(8),
      )
      .withRow(new RowBuilder('Recent requests'))
      .withPanel(
        requestTable(
          'Recent requests',
          clickhouse(
            `SELECT request_at, id, endpoint, model, status_code, error_type, duration_ms, ttft_ms, prompt_tokens, completion_tokens, account_id, trace_id FROM request_logs WHERE ${requests} ORDER BY request_at DESC LIMIT 100`,
          ),
        )
          .height(12),
      )
      .build(),
  )
}
