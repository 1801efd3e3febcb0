-- Pipeline health: one row per metric point a stage reported about itself.
--
-- The sink writes its own figures directly (Stage 'sink': rows inserted per table, batch latency
-- samples, retries, dead letters, consumer lag per partition); the other stages publish
-- PipelineMetrics records on the pipeline-metrics topic, which the sink stores here (Stage
-- 'assembler', 'evaluator', ...). Kind 'counter' values are increases over IntervalS seconds (sum
-- them over any range), 'gauge' values are readings (take max/avg), 'sample' values are single
-- observations (take quantiles). Rows of the sink's own figures carry _topic '' and _partition -1.
-- TTL: see R__retention.sql.
CREATE TABLE IF NOT EXISTS {database}.pipeline_metrics
(
    Timestamp DateTime64(3) CODEC(Delta(8), ZSTD(1)),
    Stage LowCardinality(String),
    Instance LowCardinality(String),
    Name LowCardinality(String),
    Kind LowCardinality(String),
    Value Float64 CODEC(ZSTD(1)),
    Labels Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    IntervalS Float64 CODEC(ZSTD(1)),

    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition Int32 CODEC(T64, ZSTD(1)),
    _offset Int64 CODEC(Delta(8), ZSTD(1)),
    _ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (Stage, Name, Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.pipeline_metrics_check AS {database}.pipeline_metrics ENGINE = Null;

-- Replay protection like the other tables (see 0005_sink_offsets.sql); the sink's own rows
-- (no source topic) are left out.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.pipeline_metrics_offsets_mv TO {database}.sink_offsets AS
SELECT _cluster AS ClusterId, _topic AS Topic, _partition AS Partition, 'pipeline_metrics' AS `Table`,
       max(_offset) AS MaxOffset, now64(3) AS UpdatedAt
FROM {database}.pipeline_metrics
WHERE _topic != ''
GROUP BY _cluster, _topic, _partition;
