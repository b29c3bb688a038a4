import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
import { anyOf, clickhouse, clickhouseDatasourceVariable, multiClickhouseVariable, prometheus, prometheusDatasourceVariable } from './datasources.ts'
import { numberPanels, table, timeSeries, upStat, upTimeline } from './panels.ts'
import { ccproxyDashboard, uids } from './skeleton.ts'

// Requests that found no account (503) have an empty account_id; they belong to no account's load.
const requests = `$__timeFilter(request_at) AND account_id != '' AND ${anyOf('account_id', 'account')}`
const selected = 'account=~"$account"'

export function accountDashboard() {
  return numberPanels(
    ccproxyDashboard(uids.account, 'Accounts', 'Load, errors and health of each upstream account: health from Prometheus (ccproxy_account_up), requests and failures from ClickHouse.', {
      from: 'now-24h',
      refresh: '1m',
    })
      .withVariable(clickhouseDatasourceVariable())
      .withVariable(prometheusDatasourceVariable())
      .withVariable(multiClickhouseVariable('account', 'Account', "SELECT DISTINCT account_id FROM request_logs WHERE $__timeFilter(request_at) AND account_id != '' ORDER BY account_id"))
      .withRow(new RowBuilder('Health (Prometheus)'))
      .withPanel(upStat('Account health now', prometheus(`ccproxy_account_up{${selected}}`, '{{account}}').instant()).description('0 while an account rests after 401/403/429 or fails; see the gateway log for why.'))
      .withPanel(upTimeline('Account health over time', prometheus(`ccproxy_account_up{${selected}}`, '{{account}}')))
      .withPanel(timeSeries('Request rate by account', [prometheus(`sum by (account) (rate(ccproxy_requests_total{${selected}}[$__rate_interval]))`, '{{account}}')], 'reqps').span(8))
      .withPanel(
        timeSeries(
          '5xx share by account',
          [
            prometheus(
              `sum by (account) (rate(ccproxy_requests_total{${selected}, status_code=~"5.."}[$__rate_interval])) / sum by (account) (rate(ccproxy_requests_total{${selected}}[$__rate_interval]))`,
              '{{account}}',
            ),
          ],
          'percentunit',
        ).span(8),
      )
      .withPanel(timeSeries('Requests in flight (all accounts)', [prometheus('sum(ccproxy_requests_in_flight)', 'in flight')]).span(8))
      .withRow(new RowBuilder('Requests (ClickHouse)'))
      .withPanel(
        table(
          'Accounts',
          clickhouse(
            `SELECT r.account_id AS account_id, any(a.name) AS name, count() AS requests, countIf(NOT r.success) AS failed, countIf(NOT r.success) / count() AS failure_rate, countIf(r.status_code = 429) AS rate_limited, sum(r.retries) AS retries, quantile(0.95)(r.duration_ms) AS p95_duration_ms, sum(r.total_tokens) AS total_tokens, max(r.request_at) AS last_request FROM request_logs AS r LEFT JOIN (SELECT id, name FROM accounts FINAL) AS a ON a.id = r.account_id WHERE ${requests} GROUP BY account_id ORDER BY requests DESC`,
          ),
        )
          .overrideByName('failure_rate', [{ id: 'unit', value: 'percentunit' }])
          .height(8),
      )
      .withPanel(
        timeSeries('Requests by account', [
          clickhouse(`SELECT $__timeInterval(request_at) AS time, account_id, count() AS requests FROM request_logs WHERE ${requests} GROUP BY time, account_id ORDER BY time`).timeSeries(),
        ]),
      )
      .withPanel(
        timeSeries('Failed requests by account', [
          clickhouse(
            `SELECT $__timeInterval(request_at) AS time, account_id, countIf(NOT success) AS failed FROM request_logs WHERE ${requests} GROUP BY time, account_id ORDER BY time`,
          ).timeSeries(),
        ]),
      )
      .withPanel(
        table(
          'Failures by account',
          clickhouse(
            `SELECT account_id, error_type, status_code, count() AS requests, max(request_at) AS last_seen, argMax(error_message, request_at) AS last_message FROM request_logs WHERE ${requests} AND NOT success GROUP BY account_id, error_type, status_code ORDER BY requests DESC`,
          ),
        ).height(8),
      )
      .build(),
  )
}
