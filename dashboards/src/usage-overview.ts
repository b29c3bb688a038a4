import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
import { anyOf, clickhouse, clickhouseDatasourceVariable, multiClickhouseVariable } from './datasources.ts'
import { dailyBars, link, numberPanels, pie, stat, table, timeSeries, usageStats } from './panels.ts'
import { ccproxyDashboard, dashboardUrl, uids } from './skeleton.ts'

// Exact numbers for the chosen range come from request_logs; day-by-day history and rankings from the
// usage_stats_daily view, which stays small however many requests there are.
const requests = `$__timeFilter(request_at) AND ${anyOf('mode', 'mode')} AND ${anyOf('model', 'model')}`
const days = `$__dateFilter(stat_date) AND ${anyOf('mode', 'mode')} AND ${anyOf('model', 'model')}`

export function usageOverview() {
  const stats = usageStats(requests)
  return numberPanels(
    ccproxyDashboard(uids.usage, 'Usage overview', 'Who uses the gateway, how much, with which models: requests, success rate, tokens, daily trend, top tokens and accounts.', {
      from: 'now-7d',
      refresh: '5m',
    })
      .withVariable(clickhouseDatasourceVariable())
      .withVariable(multiClickhouseVariable('mode', 'Mode', 'SELECT DISTINCT mode FROM usage_stats_daily WHERE $__dateFilter(stat_date) ORDER BY mode'))
      .withVariable(multiClickhouseVariable('model', 'Model', 'SELECT DISTINCT model FROM usage_stats_daily WHERE $__dateFilter(stat_date) ORDER BY model'))
      .withRow(new RowBuilder('Totals'))
      .withPanel(stats.requests)
      .withPanel(stats.successRate)
      .withPanel(
        stats.tokens.description(
          'Input counts every prompt token, cache reads and writes included; cache read and cache creation show how much of it the prompt cache served or filled.',
        ),
      )
      .withPanel(stat('Cache-read share of input', clickhouse(`SELECT sum(cache_read_tokens) / nullIf(sum(prompt_tokens), 0) AS cache_read_share FROM request_logs WHERE ${requests}`), 'percentunit'))
      .withPanel(stat('Active tokens and users', clickhouse(`SELECT uniqExact(token_id) AS tokens, uniqExact(user_name) AS users FROM request_logs WHERE ${requests}`)))
      .withRow(new RowBuilder('Traffic'))
      .withPanel(
        timeSeries('Requests over time by model', [
          clickhouse(`SELECT $__timeInterval(request_at) AS time, model, count() AS requests FROM request_logs WHERE ${requests} GROUP BY time, model ORDER BY time`).timeSeries(),
        ]),
      )
      .withPanel(
        timeSeries('Tokens over time', [
          clickhouse(
            `SELECT $__timeInterval(request_at) AS time, sum(prompt_tokens) AS input, sum(completion_tokens) AS output, sum(cache_read_tokens) AS cache_read, sum(cache_creation_tokens) AS cache_creation FROM request_logs WHERE ${requests} GROUP BY time ORDER BY time`,
          ).timeSeries(),
        ]),
      )
      .withPanel(pie('Requests by mode', clickhouse(`SELECT mode, count() AS requests FROM request_logs WHERE ${requests} GROUP BY mode ORDER BY requests DESC`)))
      .withPanel(pie('Requests by model', clickhouse(`SELECT model, count() AS requests FROM request_logs WHERE ${requests} GROUP BY model ORDER BY requests DESC`)))
      .withPanel(
        table(
          'By mode and model',
          clickhouse(
            `SELECT mode, model, count() AS requests, countIf(success) / count() AS success_rate, sum(prompt_tokens) AS input_tokens, sum(completion_tokens) AS output_tokens, sum(cache_read_tokens) AS cache_read_tokens, sum(cache_creation_tokens) AS cache_creation_tokens FROM request_logs WHERE ${requests} GROUP BY mode, model ORDER BY requests DESC`,
          ),
        )
          .overrideByName('success_rate', [{ id: 'unit', value: 'percentunit' }])
          .span(12)
          .height(8),
      )
      .withRow(new RowBuilder('Daily (usage_stats_daily, UTC days)'))
      .withPanel(
        dailyBars(
          'Daily requests',
          clickhouse(
            `SELECT toDateTime(stat_date, 'UTC') AS time, sum(request_count) AS requests, sum(error_count) AS errors FROM usage_stats_daily WHERE ${days} GROUP BY stat_date ORDER BY stat_date`,
          ).timeSeries(),
        ),
      )
      .withPanel(
        dailyBars(
          'Daily tokens',
          clickhouse(
            `SELECT toDateTime(stat_date, 'UTC') AS time, sum(prompt_tokens) AS input, sum(completion_tokens) AS output, sum(cache_read_tokens) AS cache_read, sum(cache_creation_tokens) AS cache_creation FROM usage_stats_daily WHERE ${days} GROUP BY stat_date ORDER BY stat_date`,
          ).timeSeries(),
        ),
      )
      .withPanel(
        table(
          'Top tokens',
          clickhouse(
            `SELECT s.token_id AS token_id, any(t.name) AS user, sum(s.request_count) AS requests, sum(s.success_count) / sum(s.request_count) AS success_rate, sum(s.total_tokens) AS total_tokens, sum(s.prompt_tokens) AS input_tokens, sum(s.completion_tokens) AS output_tokens FROM usage_stats_daily AS s LEFT JOIN (SELECT id, name FROM tokens FINAL) AS t ON t.id = s.token_id WHERE ${days} GROUP BY token_id ORDER BY total_tokens DESC LIMIT 10`,
          ),
        )
          .description('The ten tokens that used the most tokens in the range (whole UTC days).')
          .overrideByName('success_rate', [{ id: 'unit', value: 'percentunit' }])
          .overrideByName('token_id', [link('Token dashboard', dashboardUrl(uids.token, 'token', 'token_id'))])
          .span(12),
      )
      .withPanel(
        table(
          'Top accounts',
          clickhouse(
            `SELECT s.account_id AS account_id, any(a.name) AS account, sum(s.request_count) AS requests, sum(s.error_count) AS errors, sum(s.total_tokens) AS total_tokens FROM usage_stats_daily AS s LEFT JOIN (SELECT id, name FROM accounts FINAL) AS a ON a.id = s.account_id WHERE ${days} AND s.account_id != '' GROUP BY account_id ORDER BY requests DESC LIMIT 10`,
          ),
        )
          .description('Upstream accounts by requests served in the range (whole UTC days).')
          .overrideByName('account_id', [link('Account dashboard', dashboardUrl(uids.account, 'account', 'account_id'))])
          .span(12),
      )
      .build(),
  )
}
