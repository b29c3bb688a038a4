import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { parse } from 'yaml'
import { DASHBOARDS_DIR } from '../dashboards/src/render.ts'
import { alerts, ALERT_FOLDER } from '../dashboards/src/alerts.ts'
import { CLICKHOUSE_TYPE, PROMETHEUS_TYPE, provisionedUid } from '../dashboards/src/datasources.ts'

// The two forms of the alerts: the Prometheus rules file, unit-tested with promtool, and the Grafana
// alert-rule provisioning file. (Their ClickHouse queries run in dashboards-clickhouse.test.ts; their
// PromQL is checked against the metric list in dashboards.test.ts.)

const RULES = join(DASHBOARDS_DIR, 'prometheus/ccproxy-rules.yaml')
const RULE_TESTS = join(DASHBOARDS_DIR, 'prometheus/ccproxy-rules.test.yaml')
const hasPromtool = spawnSync('promtool', ['--version']).status === 0
const ifPromtool = hasPromtool ? '' : ' [SKIPPED: promtool not installed; apt-get install -y --no-install-recommends prometheus]'
const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8' })

interface PrometheusRule {
  alert: string
  expr: string
  for: string
  labels: { severity: string }
  annotations: { summary: string; description: string }
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: PrometheusRule[] }> }).groups.flatMap((g) => g.rules)

describe('Prometheus rules (dashboards/prometheus/ccproxy-rules.yaml)', () => {
  it('one rule per alert, with a severity, a summary and a description', () => {
    expect(rules.map((r) => r.alert)).toEqual(alerts.map((a) => a.name))
    for (const r of rules) {
      expect(['critical', 'warning']).toContain(r.labels.severity)
      expect(r.annotations.summary.length).toBeGreaterThan(0)
      expect(r.annotations.description.length).toBeGreaterThan(0)
    }
  })

  it('covers what the issue asks for: errors, latency, rows dropped or spooled, spool growth, account down, no traffic', () => {
    const exprs = rules.map((r) => r.expr).join('\n')
    for (const part of ['status_code=~"5.."', 'histogram_quantile(0.95', 'outcome="dropped"', 'outcome="spooled"', 'deriv(ccproxy_exporter_spool_bytes', 'ccproxy_account_up == 0', 'increase(ccproxy_requests_total[1h])'])
      expect(exprs).toContain(part)
  })

  it('every rule is unit-tested both firing and quiet', () => {
    const tests = (parse(readFileSync(RULE_TESTS, 'utf8')) as { rule_files: string[]; tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> })
    expect(tests.rule_files).toEqual(['ccproxy-rules.yaml'])
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? [])
    for (const r of rules) {
      expect(cases.some((c) => c.alertname === r.alert && c.exp_alerts.length > 0), `${r.alert} firing`).toBe(true)
      expect(cases.some((c) => c.alertname === r.alert && c.exp_alerts.length === 0), `${r.alert} quiet`).toBe(true)
    }
  })

  it.skipIf(!hasPromtool)(`promtool check rules accepts the file${ifPromtool}`, () => {
    const result = promtool('check', 'rules', RULES)
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${rules.length} rules found`)
    expect(result.status).toBe(0)
  })

  it.skipIf(!hasPromtool)(`promtool test rules passes the unit tests${ifPromtool}`, () => {
    const result = promtool('test', 'rules', RULE_TESTS)
    expect(result.stdout + result.stderr).toContain('SUCCESS')
    expect(result.status, result.stdout + result.stderr).toBe(0)
  })
})

interface GrafanaQuery {
  refId: string
  datasourceUid: string
  relativeTimeRange?: { from: number; to: number }
  model: Record<string, unknown> & { datasource: { type: string; uid: string } }
}
interface GrafanaRule {
  uid: string
  title: string
  condition: string
  data: GrafanaQuery[]
  for: string
  noDataState: string
  execErrState: string
  labels: { severity: string }
  annotations: { summary: string; description: string }
}
const provisioning = parse(readFileSync(join(DASHBOARDS_DIR, 'provisioning/alerting/ccproxy-alerts.yaml'), 'utf8')) as {
  apiVersion: number
  groups: Array<{ orgId: number; name: string; folder: string; interval: string; rules: GrafanaRule[] }>
}
const grafanaRules = provisioning.groups.flatMap((g) => g.rules)

describe('Grafana alert-rule provisioning (dashboards/provisioning/alerting)', () => {
  it('the file format: apiVersion 1, one group in the ccproxy folder, evaluated every minute', () => {
    expect(provisioning.apiVersion).toBe(1)
    expect(provisioning.groups.map((g) => [g.orgId, g.name, g.folder, g.interval])).toEqual([[1, 'ccproxy', ALERT_FOLDER, '1m']])
  })

  it('the same alerts as the Prometheus rules, with the same severity and duration', () => {
    expect(grafanaRules.map((r) => [r.title, r.labels.severity, r.for])).toEqual(rules.map((r) => [r.alert, r.labels.severity, r.for]))
    expect(new Set(grafanaRules.map((r) => r.uid)).size).toBe(grafanaRules.length)
    for (const r of grafanaRules) expect(r.uid.length).toBeLessThanOrEqual(40)
  })

  it.each(grafanaRules.map((r) => [r.title, r] as const))('%s: query A on a provisioned data source, threshold C on A', (name, r) => {
    const definition = alerts.find((a) => a.name === name)!
    expect(r.condition).toBe('C')
    expect(r.data.map((q) => q.refId)).toEqual(['A', 'C'])
    const [query, threshold] = r.data as [GrafanaQuery, GrafanaQuery]

    const source = definition.grafana.source
    expect(query.datasourceUid).toBe(provisionedUid[source])
    expect(query.model.datasource).toEqual({ type: source === 'clickhouse' ? CLICKHOUSE_TYPE : PROMETHEUS_TYPE, uid: provisionedUid[source] })
    expect(query.relativeTimeRange!.from).toBeGreaterThan(0)
    if (definition.grafana.source === 'clickhouse') {
      // alert queries must return one number: a table of one row (format 1) reduced by the threshold
      expect(query.model).toMatchObject({ editorType: 'sql', format: 1, rawSql: definition.grafana.sql })
      expect(query.relativeTimeRange).toEqual({ from: definition.grafana.rangeSeconds, to: 0 })
    } else {
      expect(query.model).toMatchObject({ expr: definition.grafana.expr, instant: true, range: false })
    }

    expect(threshold.datasourceUid).toBe('__expr__')
    expect(threshold.model).toMatchObject({
      type: 'threshold',
      expression: 'A',
      conditions: [{ evaluator: { type: definition.grafana.threshold.op, params: [definition.grafana.threshold.value] } }],
    })
    expect(['OK', 'Alerting']).toContain(r.noDataState)
    expect(r.execErrState).toBe('Error')
  })

  it('rules reference only the provisioned data sources', () => {
    const { datasources } = parse(readFileSync(join(DASHBOARDS_DIR, 'provisioning/datasources/ccproxy.yaml'), 'utf8')) as { datasources: Array<{ uid: string }> }
    const uidsProvisioned = new Set([...datasources.map((d) => d.uid), '__expr__'])
    for (const r of grafanaRules) for (const q of r.data) expect(uidsProvisioned.has(q.datasourceUid)).toBe(true)
  })
})
