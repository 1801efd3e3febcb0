-- Traces: one row per assembled trace, the latest version winning (ReplacingMergeTree(Version)).
-- A late span makes the assembler emit a higher version of the same trace; SELECT ... FINAL
-- (or argMax(..., Version) grouped by TraceId) reads the latest one.
-- Partitioned by the trace's start day. A later version only lands in another partition when a
-- span that started before the previous earliest one arrives late across midnight UTC; such a
-- trace then shows two versions under FINAL, told apart by Version.
-- Root input/output are JSON text. TTL: see R__retention.sql.
CREATE TABLE IF NOT EXISTS {database}.traces
(
    TraceId String CODEC(ZSTD(1)),
    Version UInt32 CODEC(T64, ZSTD(1)),
    Status LowCardinality(String),
    RootSpanId String CODEC(ZSTD(1)),
    Name LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Environment LowCardinality(String) CODEC(ZSTD(1)),
    Release LowCardinality(String) CODEC(ZSTD(1)),
    SessionId String CODEC(ZSTD(1)),
    UserId String CODEC(ZSTD(1)),
    Cohort LowCardinality(String) CODEC(ZSTD(1)),
    Tags Array(LowCardinality(String)) CODEC(ZSTD(1)),
    Models Array(LowCardinality(String)) CODEC(ZSTD(1)),
    PromptVersions Array(LowCardinality(String)) CODEC(ZSTD(1)),
    Start DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    End DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    DurationNs UInt64 CODEC(T64, ZSTD(1)),
    SpanCount UInt32 CODEC(T64, ZSTD(1)),
    Depth UInt32 CODEC(T64, ZSTD(1)),
    LlmCalls UInt32 CODEC(T64, ZSTD(1)),
    InputTokens UInt64 CODEC(T64, ZSTD(1)),
    OutputTokens UInt64 CODEC(T64, ZSTD(1)),
    CachedTokens UInt64 CODEC(T64, ZSTD(1)),
    ReasoningTokens UInt64 CODEC(T64, ZSTD(1)),
    CostUsd Float64 CODEC(ZSTD(1)),
    FirstTtftMs Nullable(Float64) CODEC(ZSTD(1)),
    LlmTimeNs UInt64 CODEC(T64, ZSTD(1)),
    ErrorCount UInt32 CODEC(T64, ZSTD(1)),
    ToolCalls UInt32 CODEC(T64, ZSTD(1)),
    ToolErrors UInt32 CODEC(T64, ZSTD(1)),
    Retrievals UInt32 CODEC(T64, ZSTD(1)),
    EmptyRetrievals UInt32 CODEC(T64, ZSTD(1)),
    Embeddings UInt32 CODEC(T64, ZSTD(1)),
    GuardrailFailures UInt32 CODEC(T64, ZSTD(1)),
    AgentSteps UInt32 CODEC(T64, ZSTD(1)),
    MaxRepeatedToolCalls UInt32 CODEC(T64, ZSTD(1)),
    RepeatedTool LowCardinality(String) CODEC(ZSTD(1)),
    OrphanSpans UInt32 CODEC(T64, ZSTD(1)),
    CriticalPath Array(String) CODEC(ZSTD(1)),
    CriticalPathNames Array(LowCardinality(String)) CODEC(ZSTD(1)),
    HasError Bool,
    Input String CODEC(ZSTD(3)),
    Output String CODEC(ZSTD(3)),
    SpansTruncated Bool,
    AssembledAt DateTime64(9) CODEC(Delta(8), ZSTD(1)),

    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition Int32 CODEC(T64, ZSTD(1)),
    _offset Int64 CODEC(Delta(8), ZSTD(1)),
    _ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),

    INDEX idx_start Start TYPE minmax GRANULARITY 1,
    INDEX idx_session_id SessionId TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_user_id UserId TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_service ServiceName TYPE set(256) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(Version)
PARTITION BY toDate(Start)
ORDER BY TraceId
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.traces_check AS {database}.traces ENGINE = Null;
