-- The sink's progress, derived from the data itself: for every (log, topic, partition, table) the
-- highest Kafka offset whose rows are stored. Each data row carries _cluster (the log id:
-- '<cluster id>/<topic id>'), _topic, _partition and _offset; the views below keep the maximum.
-- On partition assignment the sink reads it and skips rows at or below it, so a crash between an
-- insert and the offset commit re-inserts nothing (and the rollups count nothing twice).
CREATE TABLE IF NOT EXISTS {database}.sink_offsets
(
    ClusterId LowCardinality(String),
    Topic LowCardinality(String),
    Partition Int32,
    `Table` LowCardinality(String),
    MaxOffset SimpleAggregateFunction(max, Int64),
    UpdatedAt SimpleAggregateFunction(max, DateTime64(3))
)
ENGINE = AggregatingMergeTree
ORDER BY (ClusterId, Topic, Partition, `Table`);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.spans_offsets_mv TO {database}.sink_offsets AS
SELECT _cluster AS ClusterId, _topic AS Topic, _partition AS Partition, 'spans' AS `Table`,
       max(_offset) AS MaxOffset, now64(3) AS UpdatedAt
FROM {database}.spans
GROUP BY _cluster, _topic, _partition;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.traces_offsets_mv TO {database}.sink_offsets AS
SELECT _cluster AS ClusterId, _topic AS Topic, _partition AS Partition, 'traces' AS `Table`,
       max(_offset) AS MaxOffset, now64(3) AS UpdatedAt
FROM {database}.traces
GROUP BY _cluster, _topic, _partition;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.evaluations_offsets_mv TO {database}.sink_offsets AS
SELECT _cluster AS ClusterId, _topic AS Topic, _partition AS Partition, 'evaluations' AS `Table`,
       max(_offset) AS MaxOffset, now64(3) AS UpdatedAt
FROM {database}.evaluations
GROUP BY _cluster, _topic, _partition;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.dead_letters_offsets_mv TO {database}.sink_offsets AS
SELECT _cluster AS ClusterId, _topic AS Topic, _partition AS Partition, 'dead_letters' AS `Table`,
       max(_offset) AS MaxOffset, now64(3) AS UpdatedAt
FROM {database}.dead_letters
GROUP BY _cluster, _topic, _partition;
