-- Spans: one row per span event.
--
-- The first columns are those of the OpenTelemetry collector's ClickHouse exporter (otel_traces),
-- with the same names, types and value spellings (SpanKind 'Internal'/'Client'/..., StatusCode
-- 'Unset'/'Ok'/'Error'), so Grafana's ClickHouse data source renders traces from this table
-- (and from the otel_traces view below) with its OpenTelemetry defaults. Glassbox payload fields are
-- in SpanAttributes under their OTel GenAI names, values as text (JSON for non-strings).
-- Typed columns after them serve fast aggregation.
--
-- ReplacingMergeTree: a replayed span (same service, start second, trace and span id) collapses
-- into one row; count with FINAL for exact figures. The sink's offset bookkeeping (sink_offsets)
-- keeps replays from being inserted at all in the first place.
-- TTL: see R__retention.sql.
CREATE TABLE IF NOT EXISTS {database}.spans
(
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),

    Kind LowCardinality(String) CODEC(ZSTD(1)),
    Operation LowCardinality(String) CODEC(ZSTD(1)),
    Model LowCardinality(String) CODEC(ZSTD(1)),
    Provider LowCardinality(String) CODEC(ZSTD(1)),
    InputTokens UInt64 CODEC(T64, ZSTD(1)),
    OutputTokens UInt64 CODEC(T64, ZSTD(1)),
    CachedTokens UInt64 CODEC(T64, ZSTD(1)),
    ReasoningTokens UInt64 CODEC(T64, ZSTD(1)),
    CostUsd Float64 CODEC(ZSTD(1)),
    TtftMs Nullable(Float64) CODEC(ZSTD(1)),
    PromptName LowCardinality(String) CODEC(ZSTD(1)),
    PromptVersion LowCardinality(String) CODEC(ZSTD(1)),
    UserId String CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    Cohort LowCardinality(String) CODEC(ZSTD(1)),
    Environment LowCardinality(String) CODEC(ZSTD(1)),
    Release LowCardinality(String) CODEC(ZSTD(1)),
    Tags Array(LowCardinality(String)) CODEC(ZSTD(1)),
    ToolName LowCardinality(String) CODEC(ZSTD(1)),
    IsError Bool,
    Input String CODEC(ZSTD(3)),
    Output String CODEC(ZSTD(3)),
    Payload String CODEC(ZSTD(3)),
    Metadata String CODEC(ZSTD(1)),
    Truncated Bool,
    DroppedAttributes UInt32 CODEC(T64, ZSTD(1)),

    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition Int32 CODEC(T64, ZSTD(1)),
    _offset Int64 CODEC(Delta(8), ZSTD(1)),
    _ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),

    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session_id SessionId TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_model Model TYPE set(256) GRANULARITY 4,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(_ingested_at)
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, toDateTime(Timestamp))
ORDER BY (ServiceName, toDateTime(Timestamp), TraceId, SpanId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

-- Null-engine twin: the sink trial-inserts sub-batches here to find the rows a failed insert
-- refused, without writing anything (and without firing any materialized view).
CREATE TABLE IF NOT EXISTS {database}.spans_check AS {database}.spans ENGINE = Null;

-- Trace id → time range, as the exporter's otel_traces_trace_id_ts: Grafana reads
-- <table>_trace_id_ts to narrow a trace lookup to the partitions holding it.
CREATE TABLE IF NOT EXISTS {database}.spans_trace_id_ts
(
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
)
ENGINE = AggregatingMergeTree
PARTITION BY toStartOfWeek(Start)
ORDER BY TraceId
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.spans_trace_id_ts_mv TO {database}.spans_trace_id_ts AS
SELECT
    TraceId,
    min(toDateTime(Timestamp)) AS Start,
    max(toDateTime(Timestamp)) AS End
FROM {database}.spans
WHERE TraceId != ''
GROUP BY TraceId;

-- The exporter's table names, for dashboards and tools that expect them (replays collapsed).
CREATE VIEW IF NOT EXISTS {database}.otel_traces AS
SELECT * FROM {database}.spans FINAL;

CREATE VIEW IF NOT EXISTS {database}.otel_traces_trace_id_ts AS
SELECT * FROM {database}.spans_trace_id_ts;
