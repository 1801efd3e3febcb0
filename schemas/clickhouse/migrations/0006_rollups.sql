-- Per-minute rollups for dashboards, fed by materialized views at insert time.
-- Counters are SimpleAggregateFunction(sum); latency distributions are t-digest states, read with
-- any level at query time. Always aggregate again when reading, e.g.
--
--   SELECT Minute, sum(Spans) AS spans, sum(Errors) / sum(Spans) AS error_rate, sum(CostUsd) AS cost,
--          quantileTDigestMerge(0.95)(DurationQuantiles) / 1e6 AS p95_ms,
--          quantileTDigestMerge(0.5)(TtftQuantiles) AS ttft_p50_ms
--   FROM spans_1m WHERE Minute >= now() - INTERVAL 1 HOUR GROUP BY Minute ORDER BY Minute
--
--   SELECT Evaluator, sum(Evaluations) AS n, sum(ScoreSum) / sum(Scored) AS avg_score
--   FROM evaluations_1m WHERE Minute >= now() - INTERVAL 1 DAY AND Status IN ('passed', 'failed')
--   GROUP BY Evaluator
--
-- The sink never inserts a Kafka message's rows twice (sink_offsets) and retries an insert with
-- the same deduplication token, so the rollups count each stored row once.
-- TTL: see R__retention.sql.

CREATE TABLE IF NOT EXISTS {database}.spans_1m
(
    Minute DateTime CODEC(DoubleDelta, ZSTD(1)),
    ServiceName LowCardinality(String),
    Environment LowCardinality(String),
    Kind LowCardinality(String),
    Model LowCardinality(String),
    Provider LowCardinality(String),
    PromptName LowCardinality(String),
    PromptVersion LowCardinality(String),
    Cohort LowCardinality(String),
    Spans SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    InputTokens SimpleAggregateFunction(sum, UInt64),
    OutputTokens SimpleAggregateFunction(sum, UInt64),
    CachedTokens SimpleAggregateFunction(sum, UInt64),
    ReasoningTokens SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Float64),
    DurationNs SimpleAggregateFunction(sum, UInt64),
    DurationQuantiles AggregateFunction(quantileTDigest, UInt64),
    TtftQuantiles AggregateFunction(quantileTDigest, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (ServiceName, Environment, Minute, Kind, Model, Provider, PromptName, PromptVersion, Cohort)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.spans_1m_mv TO {database}.spans_1m AS
SELECT
    toStartOfMinute(Timestamp) AS Minute,
    ServiceName, Environment, Kind, Model, Provider, PromptName, PromptVersion, Cohort,
    count() AS Spans,
    countIf(IsError) AS Errors,
    sum(InputTokens) AS InputTokens,
    sum(OutputTokens) AS OutputTokens,
    sum(CachedTokens) AS CachedTokens,
    sum(ReasoningTokens) AS ReasoningTokens,
    sum(CostUsd) AS CostUsd,
    sum(Duration) AS DurationNs,
    quantileTDigestState(Duration) AS DurationQuantiles,
    quantileTDigestStateIf(assumeNotNull(TtftMs), TtftMs IS NOT NULL) AS TtftQuantiles
FROM {database}.spans
GROUP BY Minute, ServiceName, Environment, Kind, Model, Provider, PromptName, PromptVersion, Cohort;

-- Traces per minute of their start, counted at their first emission (Version = 1): a late span's
-- re-emission does not count the trace again. Exact token and cost totals are in spans_1m.
CREATE TABLE IF NOT EXISTS {database}.traces_1m
(
    Minute DateTime CODEC(DoubleDelta, ZSTD(1)),
    ServiceName LowCardinality(String),
    Environment LowCardinality(String),
    Status LowCardinality(String),
    Cohort LowCardinality(String),
    Traces SimpleAggregateFunction(sum, UInt64),
    ErrorTraces SimpleAggregateFunction(sum, UInt64),
    LoopingTraces SimpleAggregateFunction(sum, UInt64),
    Spans SimpleAggregateFunction(sum, UInt64),
    LlmCalls SimpleAggregateFunction(sum, UInt64),
    ToolCalls SimpleAggregateFunction(sum, UInt64),
    ToolErrors SimpleAggregateFunction(sum, UInt64),
    Retrievals SimpleAggregateFunction(sum, UInt64),
    EmptyRetrievals SimpleAggregateFunction(sum, UInt64),
    OrphanSpans SimpleAggregateFunction(sum, UInt64),
    InputTokens SimpleAggregateFunction(sum, UInt64),
    OutputTokens SimpleAggregateFunction(sum, UInt64),
    CostUsd SimpleAggregateFunction(sum, Float64),
    DurationQuantiles AggregateFunction(quantileTDigest, UInt64),
    FirstTtftQuantiles AggregateFunction(quantileTDigest, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (ServiceName, Environment, Minute, Status, Cohort)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.traces_1m_mv TO {database}.traces_1m AS
SELECT
    toStartOfMinute(Start) AS Minute,
    ServiceName, Environment, Status, Cohort,
    count() AS Traces,
    countIf(HasError) AS ErrorTraces,
    countIf(MaxRepeatedToolCalls > 1) AS LoopingTraces,
    sum(SpanCount) AS Spans,
    sum(LlmCalls) AS LlmCalls,
    sum(ToolCalls) AS ToolCalls,
    sum(ToolErrors) AS ToolErrors,
    sum(Retrievals) AS Retrievals,
    sum(EmptyRetrievals) AS EmptyRetrievals,
    sum(OrphanSpans) AS OrphanSpans,
    sum(InputTokens) AS InputTokens,
    sum(OutputTokens) AS OutputTokens,
    sum(CostUsd) AS CostUsd,
    quantileTDigestState(DurationNs) AS DurationQuantiles,
    quantileTDigestStateIf(assumeNotNull(FirstTtftMs), FirstTtftMs IS NOT NULL) AS FirstTtftQuantiles
FROM {database}.traces
WHERE Version = 1
GROUP BY Minute, ServiceName, Environment, Status, Cohort;

CREATE TABLE IF NOT EXISTS {database}.evaluations_1m
(
    Minute DateTime CODEC(DoubleDelta, ZSTD(1)),
    ServiceName LowCardinality(String),
    Environment LowCardinality(String),
    Evaluator LowCardinality(String),
    EvaluatorType LowCardinality(String),
    Status LowCardinality(String),
    FailureCategory LowCardinality(String),
    Evaluations SimpleAggregateFunction(sum, UInt64),
    Scored SimpleAggregateFunction(sum, UInt64),
    ScoreSum SimpleAggregateFunction(sum, Float64),
    JudgeInputTokens SimpleAggregateFunction(sum, UInt64),
    JudgeOutputTokens SimpleAggregateFunction(sum, UInt64),
    JudgeCostUsd SimpleAggregateFunction(sum, Float64),
    LatencyMsSum SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (ServiceName, Environment, Minute, Evaluator, EvaluatorType, Status, FailureCategory)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.evaluations_1m_mv TO {database}.evaluations_1m AS
SELECT
    toStartOfMinute(CreatedAt) AS Minute,
    ServiceName, Environment, Evaluator, EvaluatorType, Status, FailureCategory,
    count() AS Evaluations,
    countIf(Score IS NOT NULL) AS Scored,
    sum(ifNull(Score, 0)) AS ScoreSum,
    sum(JudgeInputTokens) AS JudgeInputTokens,
    sum(JudgeOutputTokens) AS JudgeOutputTokens,
    sum(JudgeCostUsd) AS JudgeCostUsd,
    sum(LatencyMs) AS LatencyMsSum
FROM {database}.evaluations
GROUP BY Minute, ServiceName, Environment, Evaluator, EvaluatorType, Status, FailureCategory;
