/**
 * Every Prometheus series the dashboards and alert rules may name: the gateway's own metrics (the contract
 * with src/ — the metrics code exposes exactly these names and labels), prom-client's default process
 * metrics, and the series Prometheus adds to every scrape. A test checks each PromQL expression against it.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram'

export interface SeriesDefinition {
  name: string
  type: MetricType
  labels: readonly string[]
}

export interface MetricDefinition extends SeriesDefinition {
  help: string
}

// OpenTelemetry GenAI client metrics, translated to Prometheus names (dots to underscores, unit suffix).
const genAiOperation = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model'] as const

export const gatewayMetrics = [
  {
    name: 'gen_ai_client_operation_duration_seconds',
    type: 'histogram',
    help: 'Duration of a request to the gateway, from arrival to the last byte sent',
    labels: [...genAiOperation, 'error_type'],
  },
  {
    name: 'gen_ai_client_token_usage',
    type: 'histogram',
    help: 'Tokens per request, by token type (input includes cache reads and writes)',
    labels: [...genAiOperation, 'gen_ai_token_type'],
  },
  {
    name: 'gen_ai_server_time_to_first_token_seconds',
    type: 'histogram',
    help: 'Time to the first content byte sent to the client, streamed requests',
    labels: genAiOperation,
  },
  {
    name: 'ccproxy_requests_total',
    type: 'counter',
    help: 'Requests that reached an authenticated route (account: the account id, as request_logs.account_id)',
    labels: ['endpoint', 'mode', 'model', 'status_code', 'account'],
  },
  { name: 'ccproxy_tokens_total', type: 'counter', help: 'Tokens by type: input, output, cache_read, cache_creation', labels: ['type', 'model'] },
  { name: 'ccproxy_requests_in_flight', type: 'gauge', help: 'Requests being served now', labels: [] },
  { name: 'ccproxy_account_up', type: 'gauge', help: '1 when the upstream account (by id) is healthy, 0 while it rests or fails', labels: ['account'] },
  { name: 'ccproxy_exporter_queue_depth', type: 'gauge', help: 'Records waiting in the exporter queue', labels: [] },
  {
    name: 'ccproxy_exporter_rows_total',
    type: 'counter',
    help: 'Rows handled by the exporter, by outcome: written, spooled, replayed, dropped (each starts at 0)',
    labels: ['outcome'],
  },
  { name: 'ccproxy_exporter_batch_duration_seconds', type: 'histogram', help: 'Duration of one batch insert into ClickHouse', labels: [] },
  { name: 'ccproxy_exporter_spool_bytes', type: 'gauge', help: 'Bytes in the on-disk spool', labels: [] },
] as const satisfies readonly MetricDefinition[]

/** prom-client 15's collectDefaultMetrics(), with the labels it gives them. */
const processGauges = [
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_active_resources_total',
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
]
export const processMetrics: readonly SeriesDefinition[] = [
  ...['process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total'].map((name) => ({ name, type: 'counter' as const, labels: [] })),
  ...processGauges.map((name) => ({ name, type: 'gauge' as const, labels: [] })),
  ...['nodejs_active_resources', 'nodejs_active_handles', 'nodejs_active_requests'].map((name) => ({ name, type: 'gauge' as const, labels: ['type'] })),
  ...['total', 'used', 'available'].map((kind) => ({ name: `nodejs_heap_space_size_${kind}_bytes`, type: 'gauge' as const, labels: ['space'] })),
  { name: 'nodejs_version_info', type: 'gauge', labels: ['version', 'major', 'minor', 'patch'] },
  { name: 'nodejs_gc_duration_seconds', type: 'histogram', labels: ['kind'] },
]

/** Added by Prometheus to every scrape target. */
export const scrapeMetrics: readonly SeriesDefinition[] = [{ name: 'up', type: 'gauge', labels: [] }]

/** Labels every scraped series carries (from the scrape config), usable in any matcher or grouping. */
export const targetLabels = ['job', 'instance'] as const

/** The Prometheus job that scrapes the gateway (deploy/prometheus.yml uses the same name). */
export const gatewayJob = 'ccproxy'

/** Every series name that exists, with a histogram's _bucket/_sum/_count, mapped to its labels. */
export function knownSeries(): Map<string, readonly string[]> {
  const series = new Map<string, readonly string[]>()
  for (const m of [...gatewayMetrics, ...processMetrics, ...scrapeMetrics]) {
    if (m.type === 'histogram') {
      series.set(`${m.name}_bucket`, [...m.labels, 'le'])
      series.set(`${m.name}_sum`, m.labels)
      series.set(`${m.name}_count`, m.labels)
    } else {
      series.set(m.name, m.labels)
    }
  }
  return series
}
