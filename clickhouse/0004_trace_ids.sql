-- The OpenTelemetry trace and span of each request, so a log row links to its trace (and a trace to its
-- row). Empty when tracing is off and the client sent no traceparent.

ALTER TABLE request_logs ADD COLUMN IF NOT EXISTS trace_id String CODEC(ZSTD(1));
ALTER TABLE request_logs ADD COLUMN IF NOT EXISTS span_id String CODEC(ZSTD(1));
ALTER TABLE request_logs ADD INDEX IF NOT EXISTS idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1;
