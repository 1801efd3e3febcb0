"""Which evaluators run on a trace: binding filters, deterministic sampling, requests. Pure.

For each binding whose filters all hold, the trace is sampled when
``keep_trace(trace_id, sample_rate, salt=binding name)`` says so (every replica and replay
agrees), or always when it has an error and the binding says ``always_on_error``. The evaluators
of the sampled bindings are grouped by delay into requests; each request carries the route's
baseline as it was before this trace.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from glassbox.common.sampling import keep_trace
from glassbox.evaluators.baselines import Baselines
from glassbox.evaluators.config import Binding, EvaluatorsConfig, Match
from glassbox.models.evaluation import RouteBaseline
from glassbox.models.ids import TraceId
from glassbox.models.trace import AssembledTrace, TraceMetrics, TraceStatus


class SpanHead(BaseModel):
    """What sampling reads of a span (payloads, inputs and outputs are not even decoded)."""

    model_config = ConfigDict(extra="ignore")

    span_id: str
    name: str
    kind: str = "span"
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class TraceHead(BaseModel):
    """What sampling and the baselines read of an assembled trace: a fraction of the cost of validating
    all of it. The evaluator validates the whole trace (and dead-letters what is invalid) when it runs."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = 1
    trace_id: TraceId
    version: int = Field(ge=1)
    status: TraceStatus
    root_span_id: str | None = None
    name: str = ""
    service_name: str = "unknown_service"
    environment: str | None = None
    tags: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    prompt_versions: list[str] = Field(default_factory=list)
    end_time_unix_nano: int
    has_error: bool = False
    metrics: TraceMetrics = Field(default_factory=TraceMetrics)
    spans: list[SpanHead] = Field(default_factory=list)


Trace = AssembledTrace | TraceHead


def _globs(patterns: Iterable[str] | None) -> re.Pattern[str] | None:
    if patterns is None:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns) or "(?!)")


class CompiledMatch:
    """A binding's filters, compiled once."""

    def __init__(self, match: Match) -> None:
        self.m = match
        self.service = _globs(match.service)
        self.environment = _globs(match.environment)
        self.root_name = _globs(match.root_name)
        self.span_name = _globs(match.span_name)
        self.model = _globs(match.model)
        self.prompt_version = _globs(match.prompt_version)
        self.kinds = set(match.span_kind) if match.span_kind is not None else None

    def __call__(self, trace: Trace) -> bool:
        m = self.m
        if self.service is not None and not self.service.match(trace.service_name):
            return False
        if self.environment is not None and not self.environment.match(trace.environment or ""):
            return False
        if self.root_name is not None and not self.root_name.match(trace.name):
            return False
        if m.status is not None and trace.status != m.status:
            return False
        if m.has_error is not None and trace.has_error != m.has_error:
            return False
        if m.has_retrieval is not None and (trace.metrics.retrievals > 0) != m.has_retrieval:
            return False
        if m.has_tool_calls is not None and (trace.metrics.tool_calls > 0) != m.has_tool_calls:
            return False
        if m.tags is not None and not set(m.tags) <= set(trace.tags):
            return False
        if self.model is not None and not any(self.model.match(x) for x in trace.models):
            return False
        if self.prompt_version is not None and not any(self.prompt_version.match(x) for x in trace.prompt_versions):
            return False
        if self.span_name is not None and not any(self.span_name.match(s.name) for s in trace.spans):
            return False
        if self.kinds is not None and not any(str(s.kind) in self.kinds for s in trace.spans):
            return False
        return m.metadata is None or _metadata_holds(trace, m.metadata)


def trace_metadata(trace: Trace) -> dict[str, Any]:
    """Metadata of the trace: the spans' metadata merged, the root span's winning."""
    merged: dict[str, Any] = {}
    root = None
    for span in trace.spans:
        if span.span_id == trace.root_span_id:
            root = span
        else:
            merged.update(span.metadata)
    if root is not None:
        merged.update(root.metadata)
    return merged


def _metadata_holds(trace: Trace, wanted: dict[str, Any]) -> bool:
    have = trace_metadata(trace)
    return all(k in have and (have[k] == v or str(have[k]) == str(v)) for k, v in wanted.items())


@dataclass(frozen=True, slots=True)
class Selection:
    """Evaluators to run on a trace after ``delay_s``, and the bindings that chose them."""

    evaluators: tuple[str, ...]
    delay_s: float
    bindings: tuple[str, ...]


class Sampler:
    """Decides, per trace, which evaluators run when; keeps the per-route baselines."""

    def __init__(self, config: EvaluatorsConfig) -> None:
        self.bindings: list[tuple[Binding, CompiledMatch]] = [(b, CompiledMatch(b.match)) for b in config.bindings]
        self.baselines = Baselines(config.baselines)

    def select(self, trace: Trace) -> list[Selection]:
        """The sampled bindings' evaluators, grouped by delay (one group per distinct delay)."""
        groups: dict[float, tuple[dict[str, None], list[str]]] = {}
        for binding, matches in self.bindings:
            if not matches(trace):
                continue
            sampled = keep_trace(trace.trace_id, binding.sample_rate, salt=binding.name)
            if not sampled and not (binding.always_on_error and trace.has_error):
                continue
            names, chosen_by = groups.setdefault(binding.delay_s, ({}, []))
            names.update(dict.fromkeys(binding.evaluators))
            chosen_by.append(binding.name)
        return [Selection(tuple(n), delay, tuple(b)) for delay, (n, b) in sorted(groups.items())]

    def process(self, trace: Trace) -> tuple[RouteBaseline, list[Selection]]:
        """The route's baseline before this trace (the trace then joins it), and what to evaluate."""
        baseline = self.baselines.observe_trace(trace)
        return baseline, self.select(trace)


def encode_request(raw_trace: bytes, selection: Selection, now_ns: int, baseline: RouteBaseline | None) -> bytes:
    """An EvaluationRequest message around the trace's JSON as received (validated before; not re-encoded)."""
    head = {
        "schema_version": 1,
        "evaluators": list(selection.evaluators),
        "not_before_unix_nano": now_ns + int(selection.delay_s * 1e9),
        "requested_at_unix_nano": now_ns,
    }
    if baseline is not None:
        head["baseline"] = baseline.model_dump(mode="json")
    prefix = json.dumps(head, separators=(",", ":"))[:-1].encode()
    return prefix + b',"trace":' + raw_trace.strip() + b"}"
