-- Dead letters: what no stage could accept, with the raw bytes and the reason. Rows come from the
-- dead-letters topic (assembler, evaluators) and from the sink itself (stage 'sink': invalid traces,
-- results or dead-letter messages, and rows ClickHouse refused, error type 'storage').
-- Deduplicated on the deterministic Id (stage, source topic, partition, offset, element index).
-- Raw holds the rejected bytes as they were; Preview is a UTF-8-safe start of them for reading.
-- TTL (GLASSBOX_CLICKHOUSE_DEAD_LETTER_RETENTION_DAYS): see R__retention.sql.
CREATE TABLE IF NOT EXISTS {database}.dead_letters
(
    Id String CODEC(ZSTD(1)),
    Stage LowCardinality(String) CODEC(ZSTD(1)),
    SourceTopic LowCardinality(String) CODEC(ZSTD(1)),
    SourcePartition Int32 CODEC(T64, ZSTD(1)),
    SourceOffset Int64 CODEC(ZSTD(1)),
    ElementIndex Int32 CODEC(T64, ZSTD(1)),
    Key String CODEC(ZSTD(1)),
    ErrorType LowCardinality(String) CODEC(ZSTD(1)),
    Reason String CODEC(ZSTD(3)),
    Raw String CODEC(ZSTD(3)),
    RawSize UInt64 CODEC(T64, ZSTD(1)),
    Preview String CODEC(ZSTD(3)),
    CreatedAt DateTime64(9) CODEC(Delta(8), ZSTD(1)),

    _cluster LowCardinality(String),
    _topic LowCardinality(String),
    _partition Int32 CODEC(T64, ZSTD(1)),
    _offset Int64 CODEC(Delta(8), ZSTD(1)),
    _ingested_at DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),

    INDEX idx_created CreatedAt TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (Stage, SourceTopic, Id)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {database}.dead_letters_check AS {database}.dead_letters ENGINE = Null;
