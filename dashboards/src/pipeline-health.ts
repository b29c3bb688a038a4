import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard'
import { clickhouse, clickhouseDatasourceVariable, prometheus, prometheusDatasourceVariable } from './datasources.ts'
import { numberPanels, stat, table, thresholds, timeSeries } from './panels.ts'
import { ccproxyDashboard, uids } from './skeleton.ts'

// The datasource's default database is ccproxy's, so currentDatabase() names it wherever it is installed.
const ownParts = 'system.parts WHERE database = currentDatabase() AND active'

export function pipelineHealth() {
  return numberPanels(
    ccproxyDashboard(
      uids.pipeline,
      'Pipeline health',
      'The path from a finished request to a ClickHouse row: exporter queue, rows by outcome, disk spool, insert latency, and ClickHouse parts and disk.',
      { from: 'now-6h', refresh: '30s' },
    )
      .withVariable(clickhouseDatasourceVariable())
      .withVariable(prometheusDatasourceVariable())
      .withRow(new RowBuilder('Exporter (Prometheus)'))
      .withPanel(
        stat('Rows dropped in range', prometheus('sum(increase(ccproxy_exporter_rows_total{outcome="dropped"}[$__range]))', 'dropped').instant())
          .description('Rows lost: the spool was full or the disk failed. Anything above 0 is data missing from ClickHouse.')
          .thresholds(thresholds(1))
          .height(8),
      )
      .withPanel(
        timeSeries('Rows by outcome', [prometheus('sum by (outcome) (rate(ccproxy_exporter_rows_total[$__rate_interval]))', '{{outcome}}')], 'rowsps')
          .description('written: inserted; spooled: ClickHouse away, kept on disk; replayed: written later from the spool; dropped: lost.')
          .span(20),
      )
      .withPanel(timeSeries('Queue depth', [prometheus('ccproxy_exporter_queue_depth', '{{instance}}')]).span(8))
      .withPanel(timeSeries('Spool size', [prometheus('ccproxy_exporter_spool_bytes', '{{instance}}')], 'bytes').span(8))
      .withPanel(
        timeSeries(
          'Insert latency',
          [0.5, 0.95, 0.99].map((q, i) =>
            prometheus(`histogram_quantile(${q}, sum by (le) (rate(ccproxy_exporter_batch_duration_seconds_bucket[$__rate_interval])))`, `p${Math.round(q * 100)}`, String.fromCharCode(65 + i)),
          ),
          's',
        ).span(8),
      )
      .withRow(new RowBuilder('Gateway process (Prometheus)'))
      .withPanel(timeSeries('Requests in flight', [prometheus('ccproxy_requests_in_flight', '{{instance}}')]).span(8))
      .withPanel(
        timeSeries('Memory', [prometheus('process_resident_memory_bytes', 'rss {{instance}}'), prometheus('nodejs_heap_size_used_bytes', 'heap {{instance}}', 'B')], 'bytes').span(8),
      )
      .withPanel(timeSeries('Event loop lag p99', [prometheus('nodejs_eventloop_lag_p99_seconds', '{{instance}}')], 's').span(8))
      .withRow(new RowBuilder('ClickHouse'))
      .withPanel(
        stat('Newest request row', clickhouse("SELECT dateDiff('second', max(request_at), now64(3)) AS seconds_ago FROM request_logs"), 's').description(
          'Age of the newest row: grows when requests stop or the exporter cannot write.',
        ).height(8),
      )
      .withPanel(stat('Active parts', clickhouse(`SELECT count() AS active_parts FROM ${ownParts}`)).height(8))
      .withPanel(
        stat('Parts in the busiest partition', clickhouse(`SELECT max(parts) AS parts FROM (SELECT count() AS parts FROM ${ownParts} GROUP BY table, partition)`))
          .description('Inserts slow down and then fail ("too many parts") when merges fall behind; batches of at least a thousand rows keep this low.')
          .thresholds(thresholds(300, 100))
          .height(8),
      )
      .withPanel(
        timeSeries('Rows arriving', [
          clickhouse('SELECT $__timeInterval(request_at) AS time, count() AS rows FROM request_logs WHERE $__timeFilter(request_at) GROUP BY time ORDER BY time').timeSeries(),
        ]).span(12),
      )
      .withPanel(
        table(
          'Tables',
          clickhouse(
            `SELECT table, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes_on_disk, sum(data_compressed_bytes) AS compressed_bytes, sum(data_uncompressed_bytes) AS uncompressed_bytes, round(sum(data_uncompressed_bytes) / nullIf(sum(data_compressed_bytes), 0), 2) AS compression_ratio FROM ${ownParts} GROUP BY table ORDER BY bytes_on_disk DESC`,
          ),
        )
          .overrideByRegexp('bytes', [{ id: 'unit', value: 'bytes' }])
          .span(16)
          .height(8),
      )
      .withPanel(
        table('Disks', clickhouse('SELECT name, path, free_space, total_space, 1 - free_space / total_space AS used FROM system.disks'))
          .overrideByRegexp('space', [{ id: 'unit', value: 'bytes' }])
          .overrideByName('used', [{ id: 'unit', value: 'percentunit' }])
          .span(8)
          .height(8),
      )
      .build(),
  )
}
