/**
 * Every Prometheus metric and label name the gateway exposes, in one place: the Grafana dashboards and alert
 * rules query exactly these, and the coming GenAI semconv move from the token-usage histogram to counters
 * should be one change here. The gen_ai_* names are the OpenTelemetry GenAI instruments translated to
 * Prometheus (dots to underscores, unit suffix `_seconds`; the `{token}` unit has no suffix).
 */
export const METRIC = {
  operationDuration: 'gen_ai_client_operation_duration_seconds',
  tokenUsage: 'gen_ai_client_token_usage',
  timeToFirstToken: 'gen_ai_server_time_to_first_token_seconds',
  requests: 'ccproxy_requests_total',
  tokens: 'ccproxy_tokens_total',
  requestsInFlight: 'ccproxy_requests_in_flight',
  accountUp: 'ccproxy_account_up',
  exporterQueueDepth: 'ccproxy_exporter_queue_depth',
  exporterRows: 'ccproxy_exporter_rows_total',
  exporterBatchDuration: 'ccproxy_exporter_batch_duration_seconds',
  exporterSpoolBytes: 'ccproxy_exporter_spool_bytes',
} as const

export const LABEL = {
  // GenAI semantic conventions (gen_ai.operation.name → gen_ai_operation_name, error.type → error_type)
  operationName: 'gen_ai_operation_name',
  providerName: 'gen_ai_provider_name',
  requestModel: 'gen_ai_request_model',
  responseModel: 'gen_ai_response_model',
  tokenType: 'gen_ai_token_type',
  errorType: 'error_type',
  // ccproxy's own
  endpoint: 'endpoint',
  mode: 'mode',
  model: 'model',
  statusCode: 'status_code',
  account: 'account',
  /** the token's id, never the token; only with metrics.token_labels */
  token: 'token',
  type: 'type',
  outcome: 'outcome',
} as const

/** Explicit bucket boundaries from the GenAI semantic conventions (v1.41, unchanged in semantic-conventions-genai). */
export const BUCKETS = {
  operationDuration: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  tokenUsage: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  timeToFirstToken: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0],
  /** one ClickHouse insert or spool write; the exporter gives up on an insert after 10 s by default */
  exporterBatch: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
} as const
