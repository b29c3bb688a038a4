import { describe, expect, it } from 'vitest'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard'
import { DASHBOARDS_DIR, dashboards, renderFiles } from '../dashboards/src/render.ts'
import { alerts } from '../dashboards/src/alerts.ts'
import { CLICKHOUSE_TYPE, PROMETHEUS_TYPE, dashboardDatasource, provisionedUid } from '../dashboards/src/datasources.ts'
import { knownSeries, targetLabels } from '../dashboards/src/metrics.ts'
import { GRAFANA_DASHBOARDS_PATH } from '../dashboards/src/provisioning.ts'
import { uids } from '../dashboards/src/skeleton.ts'

const hasPromtool = spawnSync('promtool', ['--version']).status === 0
const ifPromtool = hasPromtool ? '' : ' [SKIPPED: promtool not installed; apt-get install -y --no-install-recommends prometheus]'

const panelsOf = (d: Dashboard): Panel[] => (d.panels ?? []).flatMap((p) => (p.type === 'row' ? (p as RowPanel).panels : [p as Panel]))
type Target = { refId: string; datasource: { type: string; uid: string }; rawSql?: string; expr?: string; format?: number; queryType?: string; editorType?: string }
const targetsOf = (p: Panel) => (p.targets ?? []) as unknown as Target[]
const board = (uid: string) => dashboards().find((d) => d.uid === uid)!

describe('generated files', () => {
  it('the committed JSON, provisioning and rules are what the code generates (npm run dashboards)', () => {
    for (const [path, content] of renderFiles()) expect(readFileSync(join(DASHBOARDS_DIR, path), 'utf8'), path).toBe(content)
    expect(readdirSync(join(DASHBOARDS_DIR, 'json')).sort()).toEqual([...renderFiles().keys()].filter((p) => p.startsWith('json/')).map((p) => p.slice(5)).sort())
  })

  it('six dashboards, each written with the Foundation SDK (schema 42)', () => {
    expect(dashboards().map((d) => d.uid)).toEqual(Object.values(uids))
    for (const d of dashboards()) {
      expect(d.schemaVersion).toBe(42)
      expect(d.title).toMatch(/^ccproxy \/ /)
      expect(d.tags).toEqual(['ccproxy'])
    }
  })
})

describe.each(dashboards().map((d) => [d.uid!, d] as const))('dashboard %s', (_, d) => {
  const panels = panelsOf(d)
  const variables = d.templating?.list ?? []
  const variableNames = new Set(variables.map((v) => v.name))

  it('has unique panel titles and ids', () => {
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length)
    const ids = (d.panels ?? []).flatMap((p) => [p.id, ...(p.type === 'row' ? (p as RowPanel).panels.map((c) => c.id) : [])])
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.every((id) => typeof id === 'number' && id > 0)).toBe(true)
  })

  it('picks its data sources through datasource variables, panel and queries alike', () => {
    for (const p of panels) {
      const targets = targetsOf(p)
      expect(targets.length, p.title).toBeGreaterThan(0)
      for (const t of targets) expect(t.datasource, p.title).toEqual(p.datasource)
      expect([dashboardDatasource.clickhouse, dashboardDatasource.prometheus]).toContainEqual(p.datasource)
    }
    for (const [name, type] of [
      ['clickhouse', CLICKHOUSE_TYPE],
      ['prometheus', PROMETHEUS_TYPE],
    ] as const) {
      const used = panels.some((p) => p.datasource?.type === type)
      expect(variables.some((v) => v.type === 'datasource' && v.name === name && v.query === type)).toBe(used)
    }
  })

  it('ClickHouse queries follow the plugin query model; time series are ordered by their time column', () => {
    for (const p of panels) {
      for (const t of targetsOf(p).filter((t) => t.datasource.type === CLICKHOUSE_TYPE)) {
        expect(Object.keys(JSON.parse(JSON.stringify(t))).sort()).toEqual(['datasource', 'editorType', 'format', 'queryType', 'rawSql', 'refId'])
        expect(t.editorType).toBe('sql')
        if (t.format === 0) {
          expect(t.queryType, p.title).toBe('timeseries')
          expect(t.rawSql, p.title).toMatch(/^SELECT \S.*? AS time, /)
          expect(t.rawSql, p.title).toMatch(/ORDER BY (time|stat_date)$/)
        } else {
          expect([t.format, t.queryType], p.title).toEqual([1, 'table'])
        }
      }
    }
  })

  it('every variable a query or link uses is defined', () => {
    const builtins = new Set(['__data', '__url_time_range', '__rate_interval', '__range', '__interval'])
    const texts = [
      ...panels.flatMap((p) => targetsOf(p).map((t) => t.rawSql ?? t.expr ?? '')),
      ...variables.map((v) => (typeof v.query === 'object' ? String((v.query as { rawSql: string }).rawSql) : '')),
      JSON.stringify(panels.map((p) => p.fieldConfig)),
    ]
    for (const text of texts) {
      for (const [, a, b] of text.matchAll(/\$(?:\{(\w+)|(\w+))/g)) {
        const name = (a ?? b)!
        if (name.startsWith('__') && !builtins.has(name) && !name.startsWith('__data')) {
          expect(name, 'a ClickHouse macro').toMatch(/^__(timeFilter|timeFilter_ms|dateFilter|fromTime|toTime|fromTime_ms|toTime_ms|timeInterval|interval_s|conditionalAll)$/)
        } else if (!name.startsWith('__')) {
          expect(variableNames.has(name), `$${name} in ${text.slice(0, 80)}`).toBe(true)
        }
      }
    }
  })
})

describe('what each dashboard is for', () => {
  const sqlOf = (uid: string) => panelsOf(board(uid)).flatMap((p) => targetsOf(p).map((t) => t.rawSql ?? '')).join('\n')
  const promOf = (uid: string) => panelsOf(board(uid)).flatMap((p) => targetsOf(p).map((t) => t.expr ?? '')).join('\n')
  const variable = (uid: string, name: string) => board(uid).templating!.list!.find((v) => v.name === name)!
  const links = (uid: string, title: string) => {
    const p = panelsOf(board(uid)).find((x) => x.title === title)!
    return Object.fromEntries(p.fieldConfig!.overrides.flatMap((o) => o.properties.filter((x) => x.id === 'links').map((x) => [o.matcher.options, x.value[0].url])))
  }

  it('usage overview: request_logs for the range, usage_stats_daily for days and rankings', () => {
    expect(sqlOf(uids.usage)).toMatch(/FROM request_logs/)
    expect(sqlOf(uids.usage)).toMatch(/FROM usage_stats_daily .*\$__dateFilter\(stat_date\)/)
  })

  it('token: one token, chosen from SELECT DISTINCT token_id', () => {
    expect((variable(uids.token, 'token').query as { rawSql: string }).rawSql).toMatch(/^SELECT DISTINCT token_id\b/)
    expect(variable(uids.token, 'token').multi).toBe(false)
    expect(links(uids.token, 'Recent requests')).toEqual({ id: '${app_url}/ui/requests/${__data.fields.id}', trace_id: '${trace_url}/${__data.fields.trace_id}' })
  })

  it('accounts: health from ccproxy_account_up, load and failures from both sources', () => {
    expect(promOf(uids.account)).toMatch(/ccproxy_account_up/)
    expect(sqlOf(uids.account)).toMatch(/FROM request_logs/)
  })

  it('request log: filters with $__conditionalAll, links to the request, the conversation and the trace', () => {
    for (const name of ['token', 'model', 'endpoint', 'status']) {
      expect(variable(uids.requests, name)).toMatchObject({ multi: true, includeAll: true })
      expect(sqlOf(uids.requests)).toContain(`, $${name})`)
    }
    expect(links(uids.requests, 'Requests')).toEqual({
      id: '${app_url}/ui/requests/${__data.fields.id}',
      conversation_content_id: '${app_url}/ui/conversations/${__data.fields.conversation_content_id}',
      trace_id: '${trace_url}/${__data.fields.trace_id}',
    })
  })

  it('latency: percentiles from the GenAI histograms and from ClickHouse', () => {
    expect(promOf(uids.latency)).toMatch(/histogram_quantile\(0\.95, sum by \(le\) \(rate\(gen_ai_client_operation_duration_seconds_bucket/)
    expect(promOf(uids.latency)).toMatch(/histogram_quantile\(0\.95, sum by \(le\) \(rate\(gen_ai_server_time_to_first_token_seconds_bucket/)
    expect(sqlOf(uids.latency)).toMatch(/quantile\(0\.95\)\(duration_ms\) .*FROM request_logs/)
    expect(sqlOf(uids.latency)).toMatch(/quantilesMerge\(0\.5, 0\.95, 0\.99\)\(duration_quantiles\)/)
  })

  it('pipeline: exporter metrics and the ccproxy database parts', () => {
    for (const m of ['ccproxy_exporter_queue_depth', 'ccproxy_exporter_rows_total', 'ccproxy_exporter_spool_bytes', 'ccproxy_exporter_batch_duration_seconds_bucket']) expect(promOf(uids.pipeline)).toContain(m)
    expect(sqlOf(uids.pipeline)).toContain('system.parts WHERE database = currentDatabase() AND active')
  })
})

// --- PromQL: only the series the gateway exposes, only their labels -------------------------------------

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset'])

/** The series names and label names a PromQL expression refers to. */
function promqlNames(expr: string): { series: string[]; labels: string[] } {
  const labels: string[] = []
  let rest = expr
    .replace(/\{([^}]*)\}/g, (_, matchers: string) => {
      for (const m of matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"/g)) labels.push(m[1]!)
      return ' '
    })
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, list: string) => {
      labels.push(...list.split(',').map((s) => s.trim()).filter(Boolean))
      return ' '
    })
  rest = rest.replace(/\[[^\]]*\]/g, ' ').replace(/"(?:[^"\\]|\\.)*"/g, ' ')
  const series = [...rest.matchAll(/[a-zA-Z_:][\w:]*/g)]
    .filter((m) => !KEYWORDS.has(m[0]) && !rest.slice(m.index! + m[0].length).trimStart().startsWith('('))
    .map((m) => m[0])
  return { series, labels }
}

function problems(expr: string): string[] {
  const known = knownSeries()
  const { series, labels } = promqlNames(expr)
  const allowed = new Set<string>([...targetLabels, ...series.flatMap((s) => known.get(s) ?? [])])
  return [...series.filter((s) => !known.has(s)).map((s) => `unknown series ${s}`), ...labels.filter((l) => !allowed.has(l)).map((l) => `label ${l} is not on ${series.join(', ')}`)]
}

const prometheusRulesFile = parse(readFileSync(join(DASHBOARDS_DIR, 'prometheus/ccproxy-rules.yaml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }

const expressions: Array<{ where: string; expr: string }> = [
  ...dashboards().flatMap((d) => panelsOf(d).flatMap((p) => targetsOf(p).flatMap((t) => (t.expr ? [{ where: `${d.uid} / ${p.title}`, expr: t.expr }] : [])))),
  ...alerts.flatMap((a) => (a.grafana.source === 'prometheus' ? [{ where: `Grafana alert ${a.name}`, expr: a.grafana.expr }] : [])),
  ...prometheusRulesFile.groups.flatMap((g) => g.rules.map((r) => ({ where: `Prometheus rule ${r.alert}`, expr: r.expr }))),
]

describe('Prometheus expressions', () => {
  it('the scanner finds series and labels', () => {
    expect(promqlNames('histogram_quantile(0.95, sum by (le, gen_ai_request_model) (rate(x_bucket{a="1", b=~"$v"}[$__rate_interval]))) > 3 and on() max(up{job="c"}) == 1')).toEqual({
      series: ['x_bucket', 'up'],
      labels: ['a', 'b', 'job', 'le', 'gen_ai_request_model'],
    })
  })

  it('rejects a series the gateway does not expose, or a label its series do not have', () => {
    expect(problems('rate(ccproxy_request_total[5m])')).toEqual(['unknown series ccproxy_request_total'])
    expect(problems('sum by (model) (rate(gen_ai_client_operation_duration_seconds_count[5m]))')).toEqual(['label model is not on gen_ai_client_operation_duration_seconds_count'])
  })

  it.each(expressions.map((e) => [e.where, e.expr] as const))('%s names only exposed series and their labels', (_, expr) => {
    expect(promqlNames(expr).series.length).toBeGreaterThan(0)
    expect(problems(expr)).toEqual([])
  })

  it.skipIf(!hasPromtool)(`every dashboard and alert expression parses (promtool check rules over them as recording rules)${ifPromtool}`, () => {
    // Grafana's variables replaced by what they stand for: a duration, or a regex of the selected values
    const concrete = (expr: string) => expr.replace(/\$__(rate_interval|range|interval)/g, '5m').replace(/\$\w+/g, '.*')
    const dir = mkdtempSync(join(tmpdir(), 'ccproxy-promql-'))
    const file = join(dir, 'expressions.yaml')
    writeFileSync(file, stringify({ groups: [{ name: 'expressions', rules: expressions.map((e, i) => ({ record: `ccproxy:check_${i}`, expr: concrete(e.expr) })) }] }))
    const result = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${expressions.length} rules found`)
    expect(result.status).toBe(0)
  })
})

describe('provisioning', () => {
  const read = (path: string) => parse(readFileSync(join(DASHBOARDS_DIR, path), 'utf8'))

  it('the two data sources, with the uids the alert rules use; ClickHouse over HTTP', () => {
    const { datasources } = read('provisioning/datasources/ccproxy.yaml')
    expect(datasources.map((d: { type: string; uid: string }) => [d.type, d.uid])).toEqual([
      [CLICKHOUSE_TYPE, provisionedUid.clickhouse],
      [PROMETHEUS_TYPE, provisionedUid.prometheus],
    ])
    expect(datasources[0].jsonData).toMatchObject({ protocol: 'http', port: 8123 })
  })

  it('a file provider for the generated JSON', () => {
    const { providers } = read('provisioning/dashboards/ccproxy.yaml')
    expect(providers).toHaveLength(1)
    expect(providers[0]).toMatchObject({ type: 'file', options: { path: GRAFANA_DASHBOARDS_PATH } })
  })
})
