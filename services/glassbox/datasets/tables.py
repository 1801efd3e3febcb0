"""The dataset, prompt and experiment tables: column lists and model ↔ row conversions. Pure.

Rows are dicts keyed by column name, with JSON-friendly values only (times are integer
milliseconds, JSON columns are text, maps are dicts), so the same row can be inserted directly
or carried in a Kafka record to the process that owns ClickHouse. Column lists match the
migrations 0009-0011 (a test checks them against the created tables).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from glassbox.datasets.models import DatasetItem, DatasetVersion, EvaluatorScore, Experiment, ItemResult

Row = dict[str, Any]

COLUMNS: dict[str, tuple[str, ...]] = {
    "dataset_items": ("Dataset", "Version", "ItemId", "Input", "Context", "Expected", "SourceTraceId", "Tags",
                      "Metadata", "CreatedAt", "UpdatedAt"),
    "dataset_versions": ("Dataset", "Version", "ParentVersion", "ItemCount", "Note", "CreatedAt"),
    "prompts": ("Name", "Version", "Template", "Model", "Parameters", "Variables", "Description", "CreatedAt"),
    "prompt_labels": ("Name", "Label", "Version", "UpdatedAt"),
    "experiments": ("ExperimentId", "Name", "Dataset", "DatasetVersion", "Target", "PromptName", "PromptVersion",
                    "Evaluators", "Parameters", "Status", "ItemCount", "StartedAt", "FinishedAt", "UpdatedAt"),
    "experiment_items": ("ExperimentId", "ItemId", "TraceId", "Status", "Error", "Output", "LatencyMs", "InputTokens",
                         "OutputTokens", "CostUsd", "Passed", "Scores", "Statuses", "FailureCategories", "Evaluations",
                         "CreatedAt"),
}  # fmt: skip
"""Every table this package writes, with its columns in insert order."""


def dump(value: Any) -> str:
    """JSON text of a value; '' for None (the columns' 'absent')."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def load(text: str) -> Any:
    """The value of a JSON text column ('' is None)."""
    return json.loads(text) if text else None


def millis(value: Any) -> int:
    """Milliseconds since the epoch of a DateTime64 read back (a datetime) or already an int."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value or 0)


def as_list(row: Row, table: str) -> list[Any]:
    """A row dict as a list in the table's column order (KeyError names a missing column)."""
    return [row[column] for column in COLUMNS[table]]


# ---------------------------------------------------------------------- datasets


def item_row(dataset: str, version: int, item: DatasetItem, updated_ms: int) -> Row:
    return {
        "Dataset": dataset,
        "Version": version,
        "ItemId": item.item_id,
        "Input": dump(item.input),
        "Context": dump(item.context),
        "Expected": dump(item.expected),
        "SourceTraceId": item.source_trace_id,
        "Tags": list(item.tags),
        "Metadata": dump(item.metadata) if item.metadata else "",
        "CreatedAt": item.created_at_ms or updated_ms,
        "UpdatedAt": updated_ms,
    }


def item_from_row(row: Row) -> DatasetItem:
    return DatasetItem(
        item_id=row["ItemId"],
        input=load(row["Input"]),
        context=load(row["Context"]),
        expected=load(row["Expected"]),
        source_trace_id=row["SourceTraceId"],
        tags=list(row["Tags"]),
        metadata=load(row["Metadata"]) or {},
        created_at_ms=millis(row["CreatedAt"]),
    )


def version_row(version: DatasetVersion) -> Row:
    return {
        "Dataset": version.dataset,
        "Version": version.version,
        "ParentVersion": version.parent_version,
        "ItemCount": version.item_count,
        "Note": version.note,
        "CreatedAt": version.created_at_ms,
    }


def version_from_row(row: Row) -> DatasetVersion:
    return DatasetVersion(
        dataset=row["Dataset"],
        version=int(row["Version"]),
        parent_version=int(row["ParentVersion"]),
        item_count=int(row["ItemCount"]),
        note=row["Note"],
        created_at_ms=millis(row["CreatedAt"]),
    )


# ---------------------------------------------------------------------- experiments


def experiment_row(exp: Experiment, updated_ms: int) -> Row:
    return {
        "ExperimentId": exp.experiment_id,
        "Name": exp.name,
        "Dataset": exp.dataset,
        "DatasetVersion": exp.dataset_version,
        "Target": exp.target,
        "PromptName": exp.prompt_name,
        "PromptVersion": exp.prompt_version,
        "Evaluators": list(exp.evaluators),
        "Parameters": dump(exp.parameters),
        "Status": exp.status,
        "ItemCount": exp.item_count,
        "StartedAt": exp.started_at_ms,
        "FinishedAt": exp.finished_at_ms,
        "UpdatedAt": updated_ms,
    }


def experiment_from_row(row: Row) -> Experiment:
    return Experiment(
        experiment_id=row["ExperimentId"],
        name=row["Name"],
        dataset=row["Dataset"],
        dataset_version=int(row["DatasetVersion"]),
        target=row["Target"],
        prompt_name=row["PromptName"],
        prompt_version=row["PromptVersion"],
        evaluators=list(row["Evaluators"]),
        parameters=load(row["Parameters"]) or {},
        status=row["Status"],
        item_count=int(row["ItemCount"]),
        started_at_ms=millis(row["StartedAt"]),
        finished_at_ms=millis(row["FinishedAt"]),
    )


def result_row(result: ItemResult) -> Row:
    return {
        "ExperimentId": result.experiment_id,
        "ItemId": result.item_id,
        "TraceId": result.trace_id,
        "Status": result.status,
        "Error": result.error,
        "Output": dump(result.output),
        "LatencyMs": float(result.latency_ms),
        "InputTokens": result.input_tokens,
        "OutputTokens": result.output_tokens,
        "CostUsd": float(result.cost_usd),
        "Passed": result.passed,
        "Scores": result.scores,
        "Statuses": result.statuses,
        "FailureCategories": result.failure_categories,
        "Evaluations": dump([e.model_dump(mode="json") for e in result.evaluations]),
        "CreatedAt": result.created_at_ms,
    }


def result_from_row(row: Row) -> ItemResult:
    return ItemResult(
        experiment_id=row["ExperimentId"],
        item_id=row["ItemId"],
        trace_id=row["TraceId"],
        status=row["Status"],
        error=row["Error"],
        output=load(row["Output"]),
        latency_ms=float(row["LatencyMs"]),
        input_tokens=int(row["InputTokens"]),
        output_tokens=int(row["OutputTokens"]),
        cost_usd=float(row["CostUsd"]),
        evaluations=[EvaluatorScore.model_validate(e) for e in load(row["Evaluations"]) or []],
        created_at_ms=millis(row["CreatedAt"]),
    )
