"""Pipeline health records: what each stage reports about itself on the pipeline-metrics topic.

A stage (assembler, evaluator, ...) publishes one :class:`PipelineMetrics` record per reporting
interval; the sink stores one ``pipeline_metrics`` row per point. Counters carry the increase
since the previous record of the same process (so a sum over any time range is the total, and a
restart loses nothing but the last unreported interval); gauges carry the value when reported;
samples are single observations (quantiles are taken over them).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from glassbox.models.span import _Model


class MetricKind(StrEnum):
    COUNTER = "counter"
    """The increase over the record's interval."""
    GAUGE = "gauge"
    """The value when the record was made."""
    SAMPLE = "sample"
    """One observation (a batch latency); aggregate with quantiles."""


class MetricPoint(_Model):
    name: str = Field(min_length=1, max_length=128, pattern=r"^[a-z][a-z0-9_.]*$")
    """Metric name, lower snake case (e.g. spans, dead_letters, consumer_lag)."""
    kind: MetricKind = MetricKind.COUNTER
    value: float = Field(allow_inf_nan=False)
    labels: dict[str, str] = Field(default_factory=dict, max_length=16)
    """Dimensions of the point (topic, partition, table, reason ...)."""


class PipelineMetrics(_Model):
    """One report of one process of one stage."""

    schema_version: Literal[1] = 1
    stage: str = Field(min_length=1, max_length=64)
    """assembler, sink, evaluator, or another stage's name."""
    instance: str = Field(min_length=1, max_length=256)
    """The reporting process (host-pid): counters of different processes add up."""
    interval_s: float = Field(gt=0)
    """Seconds covered by the counters in this record."""
    recorded_at_unix_nano: int = Field(ge=0)
    points: list[MetricPoint] = Field(default_factory=list, max_length=10_000)
