-- Experiments (glassbox experiment run / compare): a target function run over a dataset version.
--
-- experiments: one row per experiment, the latest UpdatedAt winning (running → finished, or
-- interrupted). The id is deterministic (dataset@version, target, prompt, evaluators, name), so
-- running the same command again resumes it.
-- experiment_items: one row per (experiment, item): the output, the trace the call produced, its
-- latency, tokens and cost, and every evaluator's status and score (Scores only holds evaluators
-- that scored: passed or failed). Passed is false when the call raised or any evaluator failed.
-- Items stored with Status 'ok' are skipped when the experiment resumes; 'error' items run again.
CREATE TABLE IF NOT EXISTS {database}.experiments
(
    ExperimentId String,
    Name String,
    Dataset LowCardinality(String),
    DatasetVersion UInt32,
    Target String,
    PromptName LowCardinality(String),
    PromptVersion String,
    Evaluators Array(String),
    Parameters String,
    Status LowCardinality(String),
    ItemCount UInt32,
    StartedAt DateTime64(3),
    FinishedAt DateTime64(3),
    UpdatedAt DateTime64(3)
)
ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY ExperimentId;

CREATE TABLE IF NOT EXISTS {database}.experiment_items
(
    ExperimentId String,
    ItemId String,
    TraceId String,
    Status LowCardinality(String),
    Error String,
    Output String CODEC(ZSTD(3)),
    LatencyMs Float64,
    InputTokens UInt64,
    OutputTokens UInt64,
    CostUsd Float64,
    Passed Bool,
    Scores Map(LowCardinality(String), Float64),
    Statuses Map(LowCardinality(String), LowCardinality(String)),
    FailureCategories Array(LowCardinality(String)),
    Evaluations String CODEC(ZSTD(3)),
    CreatedAt DateTime64(3)
)
ENGINE = ReplacingMergeTree(CreatedAt)
ORDER BY (ExperimentId, ItemId);
