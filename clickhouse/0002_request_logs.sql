-- Every request that reached an authenticated route: one row, written once, never updated.
-- Sorted by token then time: the per-token queries (a token's log, its usage) read a contiguous range;
-- the minmax index on request_at lets "newest across everything" and time-range queries skip old
-- granules inside each token's range; bloom filters find one row by id or a conversation's rows.
-- Monthly partitions; no TTL: nothing is deleted unless an administrator decides to.
-- non_replicated_deduplication_window: the exporter tags every batch with an insert_deduplication_token,
-- so a batch replayed from the spool after a lost acknowledgement is not written twice (Replicated
-- tables on a cluster deduplicate by default).

CREATE TABLE IF NOT EXISTS request_logs
(
    id                    UUID,
    request_at            DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    response_at           DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    duration_ms           UInt32 CODEC(T64, ZSTD(1)),
    ttft_ms               Nullable(UInt32),
    token_id              LowCardinality(String),
    user_name             LowCardinality(String),
    account_id            LowCardinality(String),
    mode                  LowCardinality(String),
    endpoint              LowCardinality(String),
    model                 LowCardinality(String),
    response_model        LowCardinality(String),
    stream                Bool,
    status_code           UInt16,
    success               Bool,
    error_type            LowCardinality(String),
    error_message         String CODEC(ZSTD(3)),
    stop_reason           LowCardinality(String),
    prompt_tokens         UInt32 CODEC(T64, ZSTD(1)),
    completion_tokens     UInt32 CODEC(T64, ZSTD(1)),
    total_tokens          UInt32 CODEC(T64, ZSTD(1)),
    cache_creation_tokens UInt32 CODEC(T64, ZSTD(1)),
    cache_read_tokens     UInt32 CODEC(T64, ZSTD(1)),
    upstream_request_id   String CODEC(ZSTD(3)),
    retries               UInt8,
    client_ip             String CODEC(ZSTD(3)),
    user_agent            LowCardinality(String),
    conversation_id       String CODEC(ZSTD(3)),
    has_content           Bool,
    INDEX idx_request_at request_at TYPE minmax GRANULARITY 1,
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_conversation_id conversation_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_account account_id TYPE set(256) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(request_at)
ORDER BY (token_id, request_at)
SETTINGS non_replicated_deduplication_window = 10000;

-- The conversation itself, only for tokens that opted in. Content compresses well: ZSTD on every content
-- column, transparent on write and read. Word search: tokenbf_v1 on the lower-cased text (sized so a
-- granule group of long conversations does not saturate it); text without spaces (Chinese, Japanese)
-- has no word boundaries for it, so an ngram filter serves substring search.

CREATE TABLE IF NOT EXISTS conversation_contents
(
    id              UUID,
    request_log_id  UUID,
    token_id        LowCardinality(String),
    created_at      DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    model           LowCardinality(String),
    conversation_id String CODEC(ZSTD(3)),
    system_prompt   String CODEC(ZSTD(6)),
    messages_json   String CODEC(ZSTD(6)),
    prompt          String CODEC(ZSTD(6)),
    completion      String CODEC(ZSTD(6)),
    tool_calls      String CODEC(ZSTD(6)),
    tool_results    String CODEC(ZSTD(6)),
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_request_log_id request_log_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_prompt_words lower(prompt) TYPE tokenbf_v1(65536, 3, 0) GRANULARITY 1,
    INDEX idx_completion_words lower(completion) TYPE tokenbf_v1(65536, 3, 0) GRANULARITY 1,
    INDEX idx_prompt_ngrams lower(prompt) TYPE ngrambf_v1(3, 65536, 3, 0) GRANULARITY 1,
    INDEX idx_completion_ngrams lower(completion) TYPE ngrambf_v1(3, 65536, 3, 0) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (token_id, created_at)
SETTINGS non_replicated_deduplication_window = 10000;

-- Daily usage per token, account, mode and model, kept live by a materialized view: today's numbers are
-- there as soon as the rows are. Sums are SimpleAggregateFunction(sum) (read with sum()), latency
-- percentiles are aggregate states (read with quantilesMerge). Averages are sums over counts, so they
-- weigh every request equally across days.

CREATE TABLE IF NOT EXISTS usage_stats_daily
(
    stat_date             Date,
    token_id              LowCardinality(String),
    account_id            LowCardinality(String),
    mode                  LowCardinality(String),
    model                 LowCardinality(String),
    request_count         SimpleAggregateFunction(sum, UInt64),
    success_count         SimpleAggregateFunction(sum, UInt64),
    error_count           SimpleAggregateFunction(sum, UInt64),
    prompt_tokens         SimpleAggregateFunction(sum, UInt64),
    completion_tokens     SimpleAggregateFunction(sum, UInt64),
    total_tokens          SimpleAggregateFunction(sum, UInt64),
    cache_creation_tokens SimpleAggregateFunction(sum, UInt64),
    cache_read_tokens     SimpleAggregateFunction(sum, UInt64),
    duration_ms_sum       SimpleAggregateFunction(sum, UInt64),
    ttft_ms_sum           SimpleAggregateFunction(sum, UInt64),
    ttft_count            SimpleAggregateFunction(sum, UInt64),
    duration_quantiles    AggregateFunction(quantiles(0.5, 0.95, 0.99), UInt32),
    ttft_quantiles        AggregateFunction(quantiles(0.5, 0.95, 0.99), Nullable(UInt32))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(stat_date)
ORDER BY (stat_date, token_id, account_id, mode, model)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS usage_stats_daily_mv TO usage_stats_daily AS
SELECT
    toDate(request_at)                           AS stat_date,
    token_id,
    account_id,
    mode,
    model,
    count()                                      AS request_count,
    countIf(success)                             AS success_count,
    countIf(NOT success)                         AS error_count,
    sum(prompt_tokens)                           AS prompt_tokens,
    sum(completion_tokens)                       AS completion_tokens,
    sum(total_tokens)                            AS total_tokens,
    sum(cache_creation_tokens)                   AS cache_creation_tokens,
    sum(cache_read_tokens)                       AS cache_read_tokens,
    sum(duration_ms)                             AS duration_ms_sum,
    sum(ifNull(ttft_ms, 0))                      AS ttft_ms_sum,
    count(ttft_ms)                               AS ttft_count,
    quantilesState(0.5, 0.95, 0.99)(duration_ms) AS duration_quantiles,
    quantilesState(0.5, 0.95, 0.99)(ttft_ms)     AS ttft_quantiles
FROM request_logs
GROUP BY stat_date, token_id, account_id, mode, model;
