import { ReduceDataOptionsBuilder, VizLegendOptionsBuilder, BigValueGraphMode, GraphDrawStyle, LegendDisplayMode, LegendPlacement } from '@grafana/grafana-foundation-sdk/common'
import type { Dashboard, DynamicConfigValue, Panel, RowPanel, ValueMapping } from '@grafana/grafana-foundation-sdk/dashboard'
import { MappingType, ThresholdsConfigBuilder, ThresholdsMode, TextBoxVariableBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
import { PanelBuilder as PieChartPanelBuilder, PieChartLabels } from '@grafana/grafana-foundation-sdk/piechart'
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat'
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline'
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table'
import { PanelBuilder as TimeSeriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries'
import type { DataqueryBuilder as PrometheusQueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus'
import { ClickHouseQueryBuilder, clickhouse, dashboardDatasource } from './datasources.ts'

/** The panel shapes the dashboards share, so each dashboard file reads as a list of questions answered. */

type Query = ClickHouseQueryBuilder | PrometheusQueryBuilder

// A panel's own data source must match its queries' for the query editor to open on the right one.
const datasourceOf = (query: Query) => (query instanceof ClickHouseQueryBuilder ? dashboardDatasource.clickhouse : dashboardDatasource.prometheus)

/** The headline numbers of a set of request_logs rows: requests, success rate, tokens by kind. */
export function usageStats(where: string) {
  return {
    requests: stat('Requests', clickhouse(`SELECT count() AS requests FROM request_logs WHERE ${where}`)),
    successRate: stat('Success rate', clickhouse(`SELECT countIf(success) / nullIf(count(), 0) AS success_rate FROM request_logs WHERE ${where}`), 'percentunit').decimals(2),
    tokens: stat(
      'Tokens',
      clickhouse(
        `SELECT sum(prompt_tokens) AS input, sum(completion_tokens) AS output, sum(cache_read_tokens) AS cache_read, sum(cache_creation_tokens) AS cache_creation FROM request_logs WHERE ${where}`,
      ),
    ).span(8),
  }
}

/** One or more numbers; each column (ClickHouse) or series (Prometheus) is its own value. */
export function stat(title: string, query: Query, unit = 'short') {
  return new StatPanelBuilder()
    .title(title)
    .datasource(datasourceOf(query))
    .withTarget(query)
    .unit(unit)
    .graphMode(BigValueGraphMode.None)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .height(4)
    .span(4)
}

export function timeSeries(title: string, queries: Query[], unit = 'short') {
  const panel = new TimeSeriesPanelBuilder()
    .title(title)
    .datasource(datasourceOf(queries[0]!))
    .unit(unit)
    .lineWidth(1)
    .fillOpacity(10)
    .legend(new VizLegendOptionsBuilder().displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).showLegend(true).calcs([]))
    .height(8)
    .span(12)
  for (const q of queries) panel.withTarget(q)
  return panel
}

/** Daily numbers: one bar per day and column. */
export function dailyBars(title: string, query: Query, unit = 'short') {
  return timeSeries(title, [query], unit).drawStyle(GraphDrawStyle.Bars).fillOpacity(80)
}

export function table(title: string, query: Query) {
  return new TablePanelBuilder().title(title).datasource(datasourceOf(query)).withTarget(query).height(10).span(24)
}

/** A table of request_logs rows: the id opens the request in the admin app, the trace id its trace. */
export function requestTable(title: string, query: Query) {
  return table(title, query).overrideByName('id', [requestLink]).overrideByName('trace_id', [traceLink])
}

/** Shares of a whole: one slice per row of a (label, number) table. */
export function pie(title: string, query: Query) {
  return new PieChartPanelBuilder()
    .title(title)
    .datasource(datasourceOf(query))
    .withTarget(query)
    .reduceOptions(new ReduceDataOptionsBuilder().values(true).calcs([]))
    .displayLabels([PieChartLabels.Name, PieChartLabels.Percent])
    .height(8)
    .span(6)
}

const upDown: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: { '0': { text: 'DOWN', color: 'red', index: 0 }, '1': { text: 'UP', color: 'green', index: 1 } },
  },
]

/** A 0/1 health gauge: now (stat) and over time (state timeline). */
export function upStat(title: string, query: Query) {
  return stat(title, query).mappings(upDown).height(6).span(8)
}

export function upTimeline(title: string, query: Query) {
  return new StateTimelinePanelBuilder().title(title).datasource(datasourceOf(query)).withTarget(query).mappings(upDown).height(6).span(16)
}

/** Colours a value green, then yellow from `yellow` (when given), red from `red`. */
export function thresholds(red: number, yellow?: number) {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    ...(yellow === undefined ? [] : [{ value: yellow, color: 'yellow' }]),
    { value: red, color: 'red' },
  ])
}

/** A data link on a table column: `url` may use ${__data.fields.<column>} and dashboard variables. */
export function link(title: string, url: string): DynamicConfigValue {
  return { id: 'links', value: [{ title, url, targetBlank: true }] }
}

/**
 * Where rows link to. The web app (served by the gateway at /ui/) shows a request at /ui/requests/<request id>
 * (the request log with that row's detail open) and a conversation at /ui/conversations/<conversation content id>;
 * a trace opens at <trace_url>/<trace id> (Jaeger's UI by default; Tempo/Grafana Explore URLs work too).
 */
export function linkVariables() {
  return [
    new TextBoxVariableBuilder('app_url').label('ccproxy URL').defaultValue('http://localhost:8080').description('Base URL of the ccproxy gateway (its web app is at /ui/), for links to requests and conversations'),
    new TextBoxVariableBuilder('trace_url').label('Trace URL').defaultValue('http://localhost:16686/trace').description('A trace opens at <this URL>/<trace id>'),
  ]
}

export const requestLink = link('Open request', '${app_url}/ui/requests/${__data.fields.id}')
export const conversationLink = link('Open conversation', '${app_url}/ui/conversations/${__data.fields.conversation_content_id}')
export const traceLink = link('Open trace', '${trace_url}/${__data.fields.trace_id}')

/**
 * Numbers the panels 1…n in layout order. Grafana wants a unique id per panel; giving them here keeps the
 * committed JSON stable and lets links and alerts name a panel.
 */
export function numberPanels(dashboard: Dashboard): Dashboard {
  let id = 0
  const visit = (panels: Array<Panel | RowPanel> | undefined) => {
    for (const p of panels ?? []) {
      p.id = ++id
      if (p.type === 'row') visit((p as RowPanel).panels)
    }
  }
  visit(dashboard.panels)
  return dashboard
}
