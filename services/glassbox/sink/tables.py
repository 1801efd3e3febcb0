"""The tables the sink writes: names, explicit column lists, and where each row came from.

Column lists here match the migrations in ``schemas/clickhouse/migrations``; a test
checks them against the created tables. Columns with server defaults (``_ingested_at``)
are left out so ClickHouse fills them.
"""

from __future__ import annotations

from dataclasses import dataclass

METADATA_COLUMNS: tuple[str, ...] = ("_cluster", "_topic", "_partition", "_offset")
"""Every data row ends with the Kafka log, topic, partition and offset it came from."""


@dataclass(frozen=True, slots=True)
class Source:
    """The Kafka message a row was made from. ``log_id`` names the log: '<cluster id>/<topic id>'."""

    log_id: str
    topic: str
    partition: int
    offset: int
    key: bytes | None = None

    def metadata(self) -> list[object]:
        """Values of :data:`METADATA_COLUMNS` for a row from this message."""
        return [self.log_id, self.topic, self.partition, self.offset]


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    columns: tuple[str, ...]
    insert_settings: tuple[tuple[str, int], ...] = ()
    """ClickHouse settings (name, value) of every insert into the table, on top of the writer's own."""

    @property
    def check_table(self) -> str:
        """The Null-engine twin used to find the rows an insert refused."""
        return f"{self.name}_check"


SPANS = TableSpec(
    "spans",
    (
        "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
        "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration",
        "StatusCode", "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes",
        "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
        "Kind", "Operation", "Model", "Provider", "InputTokens", "OutputTokens", "CachedTokens",
        "ReasoningTokens", "CostUsd", "TtftMs", "PromptName", "PromptVersion", "UserId", "SessionId",
        "Cohort", "Environment", "Release", "Tags", "ToolName", "IsError", "Input", "Output", "Payload",
        "Metadata", "Truncated", "DroppedAttributes",
        *METADATA_COLUMNS,
    ),
    # No collapsing of equal sort keys inside each insert: it took about a third of a spans insert's time (3.5 of
    # 11 µs per span, measured with chDB). Within one batch only a span an application sent twice repeats a key, and
    # such a repeat in two batches was never collapsed on insert either: merges and FINAL collapse both.
    insert_settings=(("optimize_on_insert", 0),),
)  # fmt: skip

TRACES = TableSpec(
    "traces",
    (
        "TraceId", "Version", "Status", "RootSpanId", "Name", "ServiceName", "Environment", "Release",
        "SessionId", "UserId", "Cohort", "Tags", "Models", "PromptVersions", "Start", "End", "DurationNs",
        "SpanCount", "Depth", "LlmCalls", "InputTokens", "OutputTokens", "CachedTokens", "ReasoningTokens",
        "CostUsd", "FirstTtftMs", "LlmTimeNs", "ErrorCount", "ToolCalls", "ToolErrors", "Retrievals",
        "EmptyRetrievals", "Embeddings", "GuardrailFailures", "AgentSteps", "MaxRepeatedToolCalls",
        "RepeatedTool", "OrphanSpans", "CriticalPath", "CriticalPathNames", "HasError", "Input", "Output",
        "SpansTruncated", "AssembledAt",
        *METADATA_COLUMNS,
    ),
)  # fmt: skip

EVALUATIONS = TableSpec(
    "evaluations",
    (
        "EvaluationId", "TraceId", "TraceVersion", "SpanId", "Evaluator", "EvaluatorVersion",
        "EvaluatorType", "Status", "Score", "Label", "Reason", "FailureCategory", "Evidence",
        "ServiceName", "Environment", "PromptVersions", "JudgeModel", "JudgeInputTokens",
        "JudgeOutputTokens", "JudgeCostUsd", "LatencyMs", "CreatedAt",
        *METADATA_COLUMNS,
    ),
)  # fmt: skip

DEAD_LETTERS = TableSpec(
    "dead_letters",
    (
        "Id", "Stage", "SourceTopic", "SourcePartition", "SourceOffset", "ElementIndex", "Key",
        "ErrorType", "Reason", "Raw", "RawSize", "Preview", "CreatedAt",
        *METADATA_COLUMNS,
    ),
)  # fmt: skip

PIPELINE_METRICS = TableSpec(
    "pipeline_metrics",
    ("Timestamp", "Stage", "Instance", "Name", "Kind", "Value", "Labels", "IntervalS", *METADATA_COLUMNS),
)

TABLES: tuple[TableSpec, ...] = (SPANS, TRACES, EVALUATIONS, DEAD_LETTERS, PIPELINE_METRICS)
BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}
