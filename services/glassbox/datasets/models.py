"""The values datasets, prompts and experiments are made of (pydantic, validated at the boundaries).

Ids are deterministic so that doing the same thing twice lands on the same rows:
an item's id is a hash of its input and context (re-adding a trace or re-importing a file
replaces instead of duplicating), and an experiment's id is a hash of what defines the run
(dataset@version, target, prompt, evaluators, name), so running the same command again resumes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
"""Dataset and prompt names: letters, digits, '_', '.', '-' (no '@', which separates the version)."""
_NAME = re.compile(NAME_PATTERN)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def canonical(value: Any) -> str:
    """Stable JSON of a value (sorted keys, no spaces); the basis of deterministic ids."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def item_id_for(input_value: Any, context: Any = None) -> str:
    """The id of an item with this input and context: ``item-`` and 16 hex digits of their SHA-256."""
    digest = hashlib.sha256(f"{canonical(input_value)}\n{canonical(context)}".encode()).hexdigest()
    return f"item-{digest[:16]}"


def check_name(kind: str, name: str) -> str:
    """``name`` when it is a valid dataset/prompt name, else ValueError saying what is allowed."""
    if not _NAME.match(name):
        raise ValueError(f"invalid {kind} name {name!r}: use letters, digits, '_', '.' or '-' (at most 128)")
    return name


def split_ref(ref: str, kind: str) -> tuple[str, int | None]:
    """``name`` or ``name@version`` → (name, version or None). ``@latest`` means None."""
    name, _, version = ref.partition("@")
    check_name(kind, name)
    if not version or version == "latest":
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise ValueError(f"invalid {kind} reference {ref!r}: the version after '@' is a number from 1")
    return name, int(version)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetItem(_Model):
    """One case of a golden dataset. ``expected`` None means no reference output (judge-only evaluation)."""

    item_id: str = Field(min_length=1, max_length=128)
    input: JsonValue
    """What the target is called with (a traced app's root input: its arguments by name)."""
    context: JsonValue = None
    """Retrieved documents or any context the case came with (a list of {id, content, score} from traces)."""
    expected: JsonValue = None
    """The reference output, when there is one."""
    source_trace_id: str = ""
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    created_at_ms: int = 0


class ItemLine(BaseModel):
    """One line of a dataset JSONL file (what ``dataset export`` writes and ``dataset import`` reads).

    Only ``input`` is required; ``id`` defaults to the hash of input and context. ``dataset`` and
    ``version`` (written by export) are ignored on import.
    """

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=128)
    input: JsonValue
    context: JsonValue = None
    expected: JsonValue = None
    source_trace_id: str = ""
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    dataset: str | None = None
    version: int | None = None

    def to_item(self, created_at_ms: int) -> DatasetItem:
        return DatasetItem(
            item_id=self.id or item_id_for(self.input, self.context),
            input=self.input,
            context=self.context,
            expected=self.expected,
            source_trace_id=self.source_trace_id,
            tags=list(dict.fromkeys(self.tags)),
            metadata=self.metadata,
            created_at_ms=created_at_ms,
        )

    @classmethod
    def of(cls, item: DatasetItem, dataset: str, version: int) -> ItemLine:
        return cls(
            id=item.item_id,
            input=item.input,
            context=item.context,
            expected=item.expected,
            source_trace_id=item.source_trace_id,
            tags=item.tags,
            metadata=item.metadata,
            dataset=dataset,
            version=version,
        )


class DatasetVersion(_Model):
    """A version of a dataset: complete and immutable once its row exists."""

    dataset: str
    version: int = Field(ge=1)
    parent_version: int = Field(0, ge=0)
    item_count: int = Field(0, ge=0)
    note: str = ""
    created_at_ms: int = 0


Status = Literal["passed", "failed", "skipped", "error"]


class EvaluatorScore(_Model):
    """One evaluator's result on one experiment item."""

    evaluator: str
    status: Status
    score: float | None = None
    reason: str = ""
    category: str | None = None


class ItemResult(_Model):
    """What one item of an experiment produced: output, trace, cost, latency and scores."""

    experiment_id: str
    item_id: str
    trace_id: str = ""
    status: Literal["ok", "error"] = "ok"
    """error: the target raised (``error`` says what)."""
    error: str = ""
    output: JsonValue = None
    latency_ms: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    evaluations: list[EvaluatorScore] = Field(default_factory=list)
    created_at_ms: int = 0

    @property
    def passed(self) -> bool:
        """True when the call succeeded and no evaluator failed (skipped and errored evaluators do not fail it)."""
        return self.status == "ok" and not any(e.status == "failed" for e in self.evaluations)

    @property
    def scores(self) -> dict[str, float]:
        return {e.evaluator: e.score for e in self.evaluations if e.score is not None}

    @property
    def statuses(self) -> dict[str, str]:
        return {e.evaluator: e.status for e in self.evaluations}

    @property
    def failure_categories(self) -> list[str]:
        return list(dict.fromkeys(e.category for e in self.evaluations if e.status == "failed" and e.category))


ExperimentStatus = Literal["running", "finished", "interrupted", "failed"]


class Experiment(_Model):
    """An experiment: ``target`` called on every item of ``dataset@dataset_version``."""

    experiment_id: str
    name: str = ""
    dataset: str
    dataset_version: int
    target: str
    prompt_name: str = ""
    prompt_version: str = ""
    evaluators: list[str] = Field(default_factory=list)
    """Evaluators named with --evaluators; empty means those of the production bindings matching each trace."""
    parameters: dict[str, JsonValue] = Field(default_factory=dict)
    status: ExperimentStatus = "running"
    item_count: int = 0
    started_at_ms: int = 0
    finished_at_ms: int = 0

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", value):
            raise ValueError("the target is module:function, e.g. myapp.answers:answer")
        return value

    @property
    def prompt_ref(self) -> str:
        return f"{self.prompt_name}@{self.prompt_version}" if self.prompt_name else ""

    @property
    def dataset_ref(self) -> str:
        return f"{self.dataset}@{self.dataset_version}"


def experiment_id_for(
    dataset: str, version: int, target: str, prompt: str = "", evaluators: list[str] | None = None, name: str = ""
) -> str:
    """Deterministic id of a run: the same dataset@version, target, prompt, evaluators and name resume it."""
    key = "\n".join([f"{dataset}@{version}", target, prompt, ",".join(sorted(evaluators or [])), name])
    return f"exp-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
