-- Golden datasets (glassbox dataset ...): items with input, context and expected output, in versions.
--
-- Versions are copy-on-write and immutable: every change (items added from traces, a query or a
-- JSONL import; an item removed) writes a complete new version — every item of the previous
-- version plus the change — under Version = previous + 1, then one dataset_versions row. A version
-- exists once its dataset_versions row does, so a change interrupted half-way is invisible. An
-- experiment pins dataset@version and stays reproducible whatever is added later.
--
-- ReplacingMergeTree: writing the same (Dataset, Version, ItemId) again (an import or a delivery
-- through Kafka repeated) replaces the row instead of duplicating it; read with FINAL.
-- Input, Context, Expected and Metadata are JSON text ('' when absent). No TTL: golden data is kept.
CREATE TABLE IF NOT EXISTS {database}.dataset_items
(
    Dataset LowCardinality(String),
    Version UInt32,
    ItemId String,
    Input String CODEC(ZSTD(3)),
    Context String CODEC(ZSTD(3)),
    Expected String CODEC(ZSTD(3)),
    SourceTraceId String,
    Tags Array(LowCardinality(String)),
    Metadata String CODEC(ZSTD(3)),
    CreatedAt DateTime64(3),
    UpdatedAt DateTime64(3)
)
ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY (Dataset, Version, ItemId);

CREATE TABLE IF NOT EXISTS {database}.dataset_versions
(
    Dataset LowCardinality(String),
    Version UInt32,
    ParentVersion UInt32,
    ItemCount UInt32,
    Note String,
    CreatedAt DateTime64(3)
)
ENGINE = ReplacingMergeTree(CreatedAt)
ORDER BY (Dataset, Version);
