"""Dataset records: rows of the dataset, prompt and experiment tables on their way to the process that owns ClickHouse.

While the embedded stack owns chDB, CLI processes (``glassbox dataset``, ``prompt``, ``experiment``)
send the rows they would insert as records on ``glassbox.dataset-records``; the stack's
dataset-records service stores them (see ``glassbox.datasets.service``). A record carries one
table's rows, each with exactly that table's columns (checked by the consumer against the
migrations' column lists; anything else is dead-lettered with the reason).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from glassbox.models.span import _Model

DatasetTable = Literal[
    "dataset_items", "dataset_versions", "prompts", "prompt_labels", "experiments", "experiment_items"
]
"""The tables a record may write (the dataset, prompt and experiment tables of migrations 0009-0011)."""
MAX_ROWS_PER_RECORD = 500
"""Rows per record (keeps messages well under Kafka's 1 MB default)."""


class DatasetRecord(_Model):
    """One message on glassbox.dataset-records, keyed by the table name."""

    schema_version: Literal[1] = 1
    table: DatasetTable
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ROWS_PER_RECORD)
    """Rows keyed by column name; times are integer milliseconds, JSON columns are text."""
