-- Bookkeeping of the migration runner (glassbox.sink.migrations): one row per applied file.
-- Numbered files are applied once and must never change afterwards (their checksum is checked);
-- repeatable files (R__*.sql) are re-applied whenever their rendered text changes.
CREATE TABLE IF NOT EXISTS {database}.glassbox_migrations
(
    Name String,
    Checksum String,
    Kind LowCardinality(String),
    AppliedAt DateTime64(3) DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(AppliedAt)
ORDER BY Name;
