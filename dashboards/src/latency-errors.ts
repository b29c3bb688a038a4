import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
import { anyOf, clickhouse, clickhouseDatasourceVariable, multiClickhouseVariable, prometheus, prometheusDatasourceVariable } from './datasources.ts'
import { linkVariables, numberPanels, table, timeSeries, requestTable } from './panels.ts'
import { ccproxyDashboard, uids } from './skeleton.ts'

const requests = `$__timeFilter(request_at) AND ${anyOf('model', 'model')}`
const model = 'gen_ai_request_model=~"$model"'

/** p50, p95 and p99 of a Prometheus histogram, one series each. */
function percentiles(histogram: string, matchers: string, by = '') {
  return [0.5, 0.95, 0.99].map((q, i) =>
    prometheus(`histogram_quantile(${q}, sum by (le${by}) (rate(${histogram}_bucket{${matchers}}[$__rate_interval])))`, `p${Math.round(q * 100)}`, String.fromCharCode(65 + i)),
  )
}

export function latencyErrors() {
  const dashboard = ccproxyDashboard(
    uids.latency,
    'Latency and errors',
    'Request duration and time to first token, live from the Prometheus histograms and as recorded in ClickHouse; failures by type and status.',
    { from: 'now-6h', refresh: '1m' },
  )
    .withVariable(clickhouseDatasourceVariable())
    .withVariable(prometheusDatasourceVariable())
    .withVariable(multiClickhouseVariable('model', 'Model', 'SELECT DISTINCT model FROM request_logs WHERE $__timeFilter(request_at) ORDER BY model'))
  for (const v of linkVariables()) dashboard.withVariable(v)
  return numberPanels(
    dashboard
      .withRow(new RowBuilder('Live (Prometheus)'))
      .withPanel(timeSeries('Request duration, live', percentiles('gen_ai_client_operation_duration_seconds', model), 's').span(8))
      .withPanel(
        timeSeries(
          'p95 duration by model',
          [prometheus(`histogram_quantile(0.95, sum by (le, gen_ai_request_model) (rate(gen_ai_client_operation_duration_seconds_bucket{${model}}[$__rate_interval])))`, '{{gen_ai_request_model}}')],
          's',
        ).span(8),
      )
      .withPanel(timeSeries('Time to first token, live (streams)', percentiles('gen_ai_server_time_to_first_token_seconds', model), 's').span(8))
      .withPanel(
        timeSeries(
          'Errors by type',
          [prometheus(`sum by (error_type) (rate(gen_ai_client_operation_duration_seconds_count{${model}, error_type!=""}[$__rate_interval]))`, '{{error_type}}')],
          'reqps',
        ),
      )
      .withPanel(timeSeries('Responses by status code', [prometheus('sum by (status_code) (rate(ccproxy_requests_total{model=~"$model"}[$__rate_interval]))', '{{status_code}}')], 'reqps'))
      .withRow(new RowBuilder('Recorded (ClickHouse)'))
      .withPanel(
        timeSeries(
          'Request duration, recorded',
          [
            clickhouse(
              `SELECT $__timeInterval(request_at) AS time, quantile(0.5)(duration_ms) AS p50, quantile(0.95)(duration_ms) AS p95, quantile(0.99)(duration_ms) AS p99 FROM request_logs WHERE ${requests} GROUP BY time ORDER BY time`,
            ).timeSeries(),
          ],
          'ms',
        ).span(8),
      )
      .withPanel(
        timeSeries(
          'Time to first token, recorded',
          [
            clickhouse(
              `SELECT $__timeInterval(request_at) AS time, quantile(0.5)(ttft_ms) AS p50, quantile(0.95)(ttft_ms) AS p95, quantile(0.99)(ttft_ms) AS p99 FROM request_logs WHERE ${requests} AND ttft_ms IS NOT NULL GROUP BY time ORDER BY time`,
            ).timeSeries(),
          ],
          'ms',
        ).span(8),
      )
      .withPanel(
        timeSeries(
          'Daily percentiles',
          [
            clickhouse(
              `SELECT toDateTime(stat_date, 'UTC') AS time, quantilesMerge(0.5, 0.95, 0.99)(duration_quantiles)[1] AS duration_p50, quantilesMerge(0.5, 0.95, 0.99)(duration_quantiles)[2] AS duration_p95, quantilesMerge(0.5, 0.95, 0.99)(duration_quantiles)[3] AS duration_p99, quantilesMerge(0.5, 0.95, 0.99)(ttft_quantiles)[2] AS ttft_p95 FROM usage_stats_daily WHERE $__dateFilter(stat_date) AND ${anyOf('model', 'model')} GROUP BY stat_date ORDER BY stat_date`,
            ).timeSeries(),
          ],
          'ms',
        )
          .description('Merged from the quantile states usage_stats_daily keeps per UTC day.')
          .span(8),
      )
      .withPanel(
        table(
          'Percentiles by model',
          clickhouse(
            `SELECT model, count() AS requests, quantile(0.5)(duration_ms) AS duration_p50, quantile(0.95)(duration_ms) AS duration_p95, quantile(0.99)(duration_ms) AS duration_p99, quantile(0.95)(ttft_ms) AS ttft_p95 FROM request_logs WHERE ${requests} GROUP BY model ORDER BY requests DESC`,
          ),
        )
          .span(12)
          .height(8),
      )
      .withPanel(
        timeSeries('Failures by type', [
          clickhouse(
            `SELECT $__timeInterval(request_at) AS time, error_type, count() AS failed FROM request_logs WHERE ${requests} AND NOT success GROUP BY time, error_type ORDER BY time`,
          ).timeSeries(),
        ]).height(8),
      )
      .withPanel(
        table(
          'Failures by status and type',
          clickhouse(
            `SELECT status_code, error_type, count() AS requests, max(request_at) AS last_seen, argMax(error_message, request_at) AS last_message FROM request_logs WHERE ${requests} AND NOT success GROUP BY status_code, error_type ORDER BY requests DESC`,
          ),
        )
          .span(12)
          .height(8),
      )
      .withPanel(
        requestTable(
          'Slowest requests',
          clickhouse(
            `SELECT request_at, id, user_name, endpoint, model, stream, status_code, duration_ms, ttft_ms, completion_tokens, account_id, trace_id FROM request_logs WHERE ${requests} ORDER BY duration_ms DESC LIMIT 20`,
          ),
        )
          .span(12)
          .height(8),
      )
      .build(),
  )
}
