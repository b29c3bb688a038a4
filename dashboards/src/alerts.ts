import { QueryBuilder, RuleBuilder } from '@grafana/grafana-foundation-sdk/alerting'
import { TypeThresholdBuilder } from '@grafana/grafana-foundation-sdk/expr'
import { DataqueryBuilder as PrometheusQueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus'
import { ClickHouseQueryBuilder, CLICKHOUSE_TYPE, PROMETHEUS_TYPE, provisionedUid } from './datasources.ts'
import { gatewayJob } from './metrics.ts'

/**
 * The alerts, written once and emitted twice: as a Prometheus rules file (for Prometheus + Alertmanager)
 * and as Grafana alert-rule provisioning (for Grafana alerting). Grafana evaluates the request-level
 * alerts on ClickHouse, which sees every request even when Prometheus missed a scrape; the process and
 * pipeline alerts need Prometheus in both.
 */

export type Severity = 'critical' | 'warning'

export interface Threshold {
  /** fires when the value is above (gt) or below (lt) `value` */
  op: 'gt' | 'lt'
  value: number
}

export type GrafanaCondition =
  | { source: 'prometheus'; expr: string; threshold: Threshold }
  /** `rangeSeconds`: the window $__timeFilter gets (the rule's relative time range) */
  | { source: 'clickhouse'; sql: string; rangeSeconds: number; threshold: Threshold }

export interface AlertDefinition {
  name: string
  severity: Severity
  /** how long the condition must hold before the alert fires */
  for: string
  summary: string
  description: string
  /** the Prometheus rule's full expression (it fires for every series it returns) */
  prometheus: string
  grafana: GrafanaCondition
  /** what Grafana does when the query returns nothing */
  noData?: 'OK' | 'Alerting'
}

// Thresholds, shared by both forms of each alert.
const ERROR_RATIO = 0.05
const P95_SECONDS = 60

export const alerts: AlertDefinition[] = [
  {
    name: 'CcproxyDown',
    severity: 'critical',
    for: '2m',
    summary: 'ccproxy {{ $labels.instance }} cannot be scraped',
    description: 'Prometheus has not scraped the gateway for 2 minutes: the process is down or /metrics is unreachable.',
    prometheus: `up{job="${gatewayJob}"} == 0`,
    grafana: { source: 'prometheus', expr: `up{job="${gatewayJob}"}`, threshold: { op: 'lt', value: 1 } },
    noData: 'Alerting',
  },
  {
    name: 'CcproxyHighErrorRate',
    severity: 'warning',
    for: '10m',
    summary: 'More than 5% of requests fail with a 5xx',
    description:
      'Over the last 10 minutes more than 5% of requests ended in a 5xx (upstream errors, no account available, unreachable upstream). Check the Accounts and Latency and errors dashboards.',
    prometheus: `sum(rate(ccproxy_requests_total{status_code=~"5.."}[10m])) / sum(rate(ccproxy_requests_total[10m])) > ${ERROR_RATIO}`,
    grafana: {
      source: 'clickhouse',
      sql: 'SELECT countIf(status_code >= 500) / greatest(count(), 1) AS error_ratio FROM request_logs WHERE $__timeFilter(request_at)',
      rangeSeconds: 600,
      threshold: { op: 'gt', value: ERROR_RATIO },
    },
  },
  {
    name: 'CcproxyHighLatencyP95',
    severity: 'warning',
    for: '15m',
    summary: 'p95 request duration above 60 s',
    description: 'The 95th percentile of request duration has been above 60 seconds for 15 minutes: upstream is slow or requests queue behind busy accounts.',
    prometheus: `histogram_quantile(0.95, sum by (le) (rate(gen_ai_client_operation_duration_seconds_bucket[10m]))) > ${P95_SECONDS}`,
    grafana: {
      source: 'clickhouse',
      // the model endpoints; count_tokens and models answer in milliseconds and would pull the percentile down
      sql: "SELECT quantile(0.95)(duration_ms) / 1000 AS p95_seconds FROM request_logs WHERE $__timeFilter(request_at) AND endpoint IN ('messages', 'chat.completions')",
      rangeSeconds: 600,
      threshold: { op: 'gt', value: P95_SECONDS },
    },
  },
  {
    name: 'CcproxyRowsDropped',
    severity: 'critical',
    for: '0m',
    summary: 'The exporter dropped request rows',
    description: 'Request records were lost (spool full or disk error): they will never reach ClickHouse. Free disk space (or raise logging.spool_max_bytes when it is set), and bring ClickHouse back.',
    prometheus: 'sum(increase(ccproxy_exporter_rows_total{outcome="dropped"}[5m])) > 0',
    grafana: { source: 'prometheus', expr: 'sum(increase(ccproxy_exporter_rows_total{outcome="dropped"}[5m]))', threshold: { op: 'gt', value: 0 } },
  },
  {
    name: 'CcproxyRowsSpooled',
    severity: 'warning',
    for: '10m',
    summary: 'Request rows go to the disk spool',
    description: 'For 10 minutes the exporter could not write to ClickHouse (unreachable, slow or erroring) and kept rows on disk. They are replayed when ClickHouse answers again.',
    prometheus: 'sum(increase(ccproxy_exporter_rows_total{outcome="spooled"}[5m])) > 0',
    grafana: { source: 'prometheus', expr: 'sum(increase(ccproxy_exporter_rows_total{outcome="spooled"}[5m]))', threshold: { op: 'gt', value: 0 } },
  },
  {
    name: 'CcproxySpoolGrowing',
    severity: 'warning',
    for: '15m',
    summary: 'The disk spool of {{ $labels.instance }} keeps growing',
    description: 'The spool has grown for 15 minutes: ClickHouse is not taking rows back. When the disk is full (or logging.spool_max_bytes, when set, is reached) rows are dropped.',
    prometheus: 'deriv(ccproxy_exporter_spool_bytes[10m]) > 0',
    grafana: { source: 'prometheus', expr: 'deriv(ccproxy_exporter_spool_bytes[10m])', threshold: { op: 'gt', value: 0 } },
  },
  {
    name: 'CcproxyAccountDown',
    severity: 'warning',
    for: '5m',
    summary: 'Upstream account {{ $labels.account }} is down',
    description: 'The account has been unhealthy for 5 minutes (refused credentials, rate limits or errors); requests go to the other accounts. See the Accounts dashboard.',
    prometheus: 'ccproxy_account_up == 0',
    grafana: { source: 'prometheus', expr: 'ccproxy_account_up', threshold: { op: 'lt', value: 1 } },
  },
  {
    name: 'CcproxyNoTraffic',
    severity: 'warning',
    for: '15m',
    summary: 'No requests for an hour',
    description: 'The gateway is up but served no request in the last hour: clients cannot reach it, or nobody is working.',
    // `or vector(0)`: before the first request the counter has no series at all
    prometheus: `(sum(increase(ccproxy_requests_total[1h])) or vector(0)) < 1 and on() (max(up{job="${gatewayJob}"}) == 1)`,
    grafana: {
      source: 'clickhouse',
      sql: 'SELECT count() AS requests FROM request_logs WHERE $__timeFilter(request_at)',
      rangeSeconds: 3600,
      threshold: { op: 'lt', value: 1 },
    },
  },
]

/** dashboards/prometheus/ccproxy-rules.yaml */
export function prometheusRules() {
  return {
    groups: [
      {
        name: 'ccproxy',
        rules: alerts.map((a) => ({
          alert: a.name,
          expr: a.prometheus,
          for: a.for,
          labels: { severity: a.severity },
          annotations: { summary: a.summary, description: a.description },
        })),
      },
    ],
  }
}

export const ALERT_FOLDER = 'ccproxy'

function grafanaRule(a: AlertDefinition) {
  const { grafana: condition } = a
  const query =
    condition.source === 'clickhouse'
      ? new QueryBuilder('A')
          .datasourceUid(provisionedUid.clickhouse)
          .relativeTimeRange({ from: condition.rangeSeconds, to: 0 })
          .model(new ClickHouseQueryBuilder(condition.sql).datasource({ type: CLICKHOUSE_TYPE, uid: provisionedUid.clickhouse }))
      : new QueryBuilder('A')
          .datasourceUid(provisionedUid.prometheus)
          .relativeTimeRange({ from: 600, to: 0 })
          .model(new PrometheusQueryBuilder().refId('A').datasource({ type: PROMETHEUS_TYPE, uid: provisionedUid.prometheus }).expr(condition.expr).instant())
  const threshold = new QueryBuilder('C').datasourceUid('__expr__').model(
    new TypeThresholdBuilder()
      .refId('C')
      .datasource({ type: '__expr__', uid: '__expr__' })
      .expression('A')
      .conditions([{ evaluator: { type: condition.threshold.op, params: [condition.threshold.value] } }]),
  )
  const rule = new RuleBuilder(a.name)
    // CcproxyHighErrorRate → ccproxy-high-error-rate
    .uid(`ccproxy-${a.name.replace(/^Ccproxy/, '').replace(/[A-Z]/g, (c, i: number) => (i ? '-' : '') + c.toLowerCase())}`)
    .condition('C')
    .queries([query, threshold])
    .forDuration(a.for)
    .noDataState(a.noData ?? 'OK')
    .execErrState('Error')
    .labels({ severity: a.severity })
    .annotations({ summary: a.summary, description: a.description })
    .build()
  // the file format takes the rule without the API's folderUID/orgID/ruleGroup, which the group carries
  const { uid, title, condition: cond, data, noDataState, execErrState, labels, annotations } = rule
  return { uid, title, condition: cond, data, for: rule.for, noDataState, execErrState, labels, annotations }
}

/** dashboards/provisioning/alerting/ccproxy-alerts.yaml */
export function grafanaAlertProvisioning() {
  return {
    apiVersion: 1,
    groups: [{ orgId: 1, name: 'ccproxy', folder: ALERT_FOLDER, interval: '1m', rules: alerts.map(grafanaRule) }],
  }
}
