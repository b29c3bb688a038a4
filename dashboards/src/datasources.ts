import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog'
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common'
import { DatasourceVariableBuilder, QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard'
import { DataqueryBuilder as PrometheusQueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus'

/**
 * The two data sources every dashboard reads, and the typed query for the one the Foundation SDK has no
 * builder for: grafana-clickhouse-datasource (query model from the plugin's src/types/sql.ts).
 */

export const CLICKHOUSE_TYPE = 'grafana-clickhouse-datasource'
export const PROMETHEUS_TYPE = 'prometheus'

/** The uids dashboards/provisioning/datasources gives them; alert rules cannot use dashboard variables. */
export const provisionedUid = { clickhouse: 'ccproxy-clickhouse', prometheus: 'ccproxy-prometheus' } as const

/** Dashboards pick their data sources through `datasource` variables, so one JSON fits any Grafana. */
export const dashboardDatasource = {
  clickhouse: { type: CLICKHOUSE_TYPE, uid: '${clickhouse}' },
  prometheus: { type: PROMETHEUS_TYPE, uid: '${prometheus}' },
} as const satisfies Record<string, DataSourceRef>

export function clickhouseDatasourceVariable() {
  return new DatasourceVariableBuilder('clickhouse').label('ClickHouse').type(CLICKHOUSE_TYPE)
}

export function prometheusDatasourceVariable() {
  return new DatasourceVariableBuilder('prometheus').label('Prometheus').type(PROMETHEUS_TYPE)
}

/** sqlds' result formats: a time series (time column first, string columns become series) or a table. */
export const ClickHouseFormat = { timeSeries: 0, table: 1 } as const
type Format = (typeof ClickHouseFormat)[keyof typeof ClickHouseFormat]

export interface ClickHouseQuery extends Dataquery {
  refId: string
  datasource: DataSourceRef
  editorType: 'sql'
  rawSql: string
  format: Format
  /** used by Explore to pick a view */
  queryType: 'timeseries' | 'table'
}

export class ClickHouseQueryBuilder implements Builder<ClickHouseQuery> {
  readonly #query: ClickHouseQuery

  constructor(rawSql: string) {
    this.#query = {
      refId: 'A',
      datasource: dashboardDatasource.clickhouse,
      editorType: 'sql',
      rawSql,
      format: ClickHouseFormat.table,
      queryType: 'table',
      _implementsDataqueryVariant() {},
    }
  }

  refId(refId: string): this {
    this.#query.refId = refId
    return this
  }

  datasource(datasource: DataSourceRef): this {
    this.#query.datasource = datasource
    return this
  }

  timeSeries(): this {
    this.#query.format = ClickHouseFormat.timeSeries
    this.#query.queryType = 'timeseries'
    return this
  }

  build(): ClickHouseQuery {
    return this.#query
  }
}

/** A ClickHouse query shown as a table (the default) or, with .timeSeries(), as series. */
export function clickhouse(rawSql: string): ClickHouseQueryBuilder {
  return new ClickHouseQueryBuilder(rawSql)
}

/** A Prometheus range query on the dashboard's Prometheus variable. */
export function prometheus(expr: string, legendFormat: string, refId = 'A') {
  return new PrometheusQueryBuilder().datasource(dashboardDatasource.prometheus).expr(expr).legendFormat(legendFormat).refId(refId).range()
}

/**
 * A SQL condition on a multi-value dashboard variable: `column IN (…)` for the selected values, `1=1` when
 * "All" is selected ($__conditionalAll, expanded by the ClickHouse data source in the browser).
 */
export function anyOf(column: string, variable: string): string {
  return `$__conditionalAll(${column} IN (\${${variable}:sqlstring}), $${variable})`
}

/** A dashboard variable filled by a ClickHouse query, refreshed when the time range changes. */
export function clickhouseVariable(name: string, label: string, rawSql: string) {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(dashboardDatasource.clickhouse)
    .query({ rawSql, editorType: 'sql' })
    .definition(rawSql)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
}

/** Multi-select with "All"; the Prometheus side gets `.*` for All, the ClickHouse side drops the condition. */
export function multiClickhouseVariable(name: string, label: string, rawSql: string) {
  return clickhouseVariable(name, label, rawSql).multi(true).includeAll(true).allValue('.*').current({ text: 'All', value: '$__all' })
}
