-- Retention, re-applied by the migration runner whenever this file's rendered text changes
-- (GLASSBOX_CLICKHOUSE_RETENTION_DAYS, GLASSBOX_CLICKHOUSE_DEAD_LETTER_RETENTION_DAYS), and only then.
-- Daily-partitioned tables drop whole parts (ttl_only_drop_parts); the others delete rows.
ALTER TABLE {database}.spans MODIFY TTL toDateTime(Timestamp) + toIntervalDay({retention_days});
ALTER TABLE {database}.spans_trace_id_ts MODIFY TTL Start + toIntervalDay({retention_days});
ALTER TABLE {database}.traces MODIFY TTL toDateTime(Start) + toIntervalDay({retention_days});
ALTER TABLE {database}.evaluations MODIFY TTL toDateTime(CreatedAt) + toIntervalDay({retention_days});
ALTER TABLE {database}.dead_letters MODIFY TTL toDateTime(CreatedAt) + toIntervalDay({dead_letter_retention_days});
ALTER TABLE {database}.spans_1m MODIFY TTL Minute + toIntervalDay({retention_days});
ALTER TABLE {database}.traces_1m MODIFY TTL Minute + toIntervalDay({retention_days});
ALTER TABLE {database}.evaluations_1m MODIFY TTL Minute + toIntervalDay({retention_days});
ALTER TABLE {database}.pipeline_metrics MODIFY TTL toDateTime(Timestamp) + toIntervalDay({retention_days});
