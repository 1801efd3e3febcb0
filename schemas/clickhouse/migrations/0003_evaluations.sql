-- Evaluations: one row per evaluation result (rule, statistical, LLM judge, custom) and per score the
-- application attached to a span itself (EvaluatorType 'sdk': user feedback next to evaluator results).
-- Deduplicated on EvaluationId, which is deterministic, so a replayed or re-run evaluation collapses
-- into one row (the latest CreatedAt wins). Not partitioned by time: a re-run's CreatedAt differs, and
-- a time partition would keep both copies apart; the TTL deletes rows instead. Evidence is JSON text.
-- TTL: see R__retention.sql.
CREATE TABLE IF NOT EXISTS {database}.evaluations
(
    EvaluationId String CODEC(ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    TraceVersion UInt32 CODEC(T64, ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    Evaluator LowCardinality(String) CODEC(ZSTD(1)),
    EvaluatorVersion LowCardinality(String) CODEC(ZSTD(1)),
    EvaluatorType LowCardinality(String) CODEC(ZSTD(1)),
    Status LowCardinality(String) CODEC(ZSTD(1)),
    Score Nullable(Float64) CODEC(ZSTD(1)),
    Label LowCardinality(String) CODEC(ZSTD(1)),
    Reason String CODEC(ZSTD(3)),
    FailureCategory LowCardinality(String) CODEC(ZSTD(1)),
    Evidence String CODEC(ZSTD(3)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    Environment LowCardinality(String) CODEC(ZSTD(1)),
    PromptVersions Array(LowCardinality(String)) CODEC(ZSTD(1)),
    JudgeModel LowCardinality(String) CODEC(ZSTD(1)),
    JudgeInputTokens UInt64 CODEC(T64, ZSTD(1)),
    JudgeOutputTokens UInt64 CODEC(T64, ZSTD(1)),
    JudgeCostUsd Float64 CODEC(ZSTD(1)),
    LatencyMs Float64 CODEC(ZSTD(1)),
    CreatedAt DateTime64(9) CODEC(Delta(8), ZSTD(1)),

    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition Int32 CODEC(T64, ZSTD(1)),
    _offset Int64 CODEC(Delta(8), ZSTD(1)),
    _ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),

    INDEX idx_created CreatedAt TYPE minmax GRANULARITY 1,
    INDEX idx_evaluator Evaluator TYPE set(512) GRANULARITY 4,
    INDEX idx_status Status TYPE set(8) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(CreatedAt)
ORDER BY (TraceId, EvaluationId)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.evaluations_check AS {database}.evaluations ENGINE = Null;
