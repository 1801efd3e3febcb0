"""The evaluator bindings file (YAML), validated with pydantic.

::

    judges:
      default: {model: openai/gpt-4o-mini, api_key_env: OPENAI_API_KEY}
    evaluators:
      faithfulness: {type: faithfulness, judge: default, budget_usd_per_day: 5}
    bindings:
      - name: rag
        match: {has_retrieval: true}
        sample_rate: 0.2
        evaluators: [faithfulness, empty_retrieval]

A bound evaluator name that is not declared under ``evaluators`` is a built-in type used with
its defaults, or else an entry point of the ``glassbox.evaluators`` group. Any mistake fails
:func:`load_config` with a :class:`ConfigFileError` whose lines name the field path, such as
``bindings[2].sample_rate: Input should be less than or equal to 1``.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator

from glassbox.models.evaluation import FailureCategory
from glassbox.models.trace import TraceStatus

NAME = r"^[A-Za-z0-9_.:-]{1,128}$"
DEFAULT_CONFIG = "default_config.yaml"


class ConfigFileError(ValueError):
    """The bindings file is invalid; each line of the message names a field path and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class JudgeModel(_Strict):
    """One model a judge can call through litellm. Keys come from the environment, never from the file."""

    model: str | None = None
    """litellm model name (provider/model); None: GLASSBOX_EVAL_JUDGE_MODEL."""
    api_base: str | None = None
    """Base URL for OpenAI-compatible or self-hosted servers; None: GLASSBOX_EVAL_JUDGE_API_BASE."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (None: litellm's provider default)."""
    input_cost_per_token: float | None = Field(None, ge=0)
    """Price registered with litellm for models it has no price for (USD per input token)."""
    output_cost_per_token: float | None = Field(None, ge=0)
    litellm_params: dict[str, JsonValue] = Field(default_factory=dict)
    """Extra litellm parameters (api_version, ...)."""

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("must be the NAME of an environment variable, not a key")
        return value


class JudgeConfig(JudgeModel):
    """A judge: a primary model, fallbacks (litellm Router), and how hard to try."""

    fallbacks: list[JudgeModel] = Field(default_factory=list)
    timeout_s: float = Field(30.0, gt=0)
    """Timeout of one call."""
    max_attempts: int = Field(3, ge=1, le=10)
    """Attempts per judgement (429, 5xx, timeouts and malformed answers are retried)."""
    max_backoff_s: float = Field(20.0, gt=0)
    deadline_s: float = Field(120.0, gt=0)
    """A judgement that has not succeeded within this gives up (status error)."""
    temperature: float = Field(0.0, ge=0, le=2)
    json_mode: bool = True
    """Ask for response_format json_object (dropped for providers that do not support it)."""


class EvaluatorSpec(_Strict):
    """One configured evaluator: a built-in ``type`` (or ``custom``) with its parameters and limits."""

    type: str
    version: str = Field("1", pattern=r"^[A-Za-z0-9_.+-]{1,32}$")
    """Part of the evaluation id: bump it to re-evaluate traces."""
    params: dict[str, Any] = Field(default_factory=dict)
    failure_category: FailureCategory | None = None
    """Overrides the type's category for failures."""
    judge: str = "default"
    """For LLM judges: the judge (under ``judges``) to call."""
    prompt_version: str | None = None
    """For LLM judges: the prompt file version (default: the newest)."""
    function: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """For custom evaluators: ``package.module:function``."""
    entry_point: str | None = None
    """For custom evaluators: name in the ``glassbox.evaluators`` entry point group."""
    rate_limit_per_min: int | None = Field(None, ge=1)
    budget_usd_per_hour: float | None = Field(None, ge=0)
    budget_usd_per_day: float | None = Field(None, ge=0)


class Match(_Strict):
    """Which traces a binding applies to. Every filter given must hold; lists mean any of (globs allowed)."""

    service: list[str] | None = None
    environment: list[str] | None = None
    root_name: list[str] | None = None
    """Root span name."""
    span_name: list[str] | None = None
    """Any span's name."""
    span_kind: list[Literal["span", "generation", "retrieval", "tool", "agent", "embedding", "guardrail"]] | None = None
    """Any span's kind."""
    tags: list[str] | None = None
    """Tags the trace must all carry."""
    model: list[str] | None = None
    prompt_version: list[str] | None = None
    """name@version of a prompt used."""
    has_retrieval: bool | None = None
    has_tool_calls: bool | None = None
    status: TraceStatus | None = None
    has_error: bool | None = None
    metadata: dict[str, JsonValue] | None = None
    """key: value pairs the trace's metadata (root span first) must hold."""


class Binding(_Strict):
    """Run ``evaluators`` on the sampled share of the traces that ``match``."""

    name: str = Field(pattern=NAME)
    match: Match = Field(default_factory=Match)
    sample_rate: float = Field(1.0, ge=0.0, le=1.0)
    """Share of matching traces evaluated, decided from the trace id (salted with the binding name)."""
    always_on_error: bool = True
    """Evaluate every matching trace with an error, whatever the sample rate."""
    delay_s: float = Field(0.0, ge=0.0, le=86_400)
    """Evaluate no earlier than this after the trace was sampled."""
    evaluators: list[str] = Field(min_length=1)


class BaselineConfig(_Strict):
    """The rolling per-route baselines of the spike rules."""

    window_s: float = Field(3600.0, gt=0)
    max_samples: int = Field(5000, ge=10, le=1_000_000)
    """Newest traces kept per route (older ones leave the window early)."""
    max_routes: int = Field(10_000, ge=1)
    """Routes tracked at once; the least recently seen one is forgotten beyond it."""
    outlier_factor: float | None = Field(2.0, gt=1.0)
    """A trace above this × a warmed-up p99 (on latency, tokens or cost) stays out of the window, so a
    burst of spikes keeps being flagged instead of raising its own bar; None lets every trace in."""
    outlier_min_samples: int = Field(20, ge=1)
    """Samples a route needs before outliers are kept out (match the spike rules' min_samples)."""


class EvaluatorsConfig(_Strict):
    """The whole file."""

    version: Literal[1] = 1
    judges: dict[str, JudgeConfig] = Field(default_factory=dict)
    evaluators: dict[str, EvaluatorSpec] = Field(default_factory=dict)
    bindings: list[Binding] = Field(default_factory=list)
    baselines: BaselineConfig = Field(default_factory=BaselineConfig)


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def describe(exc: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[str]:
    """One 'field.path[2].name: message' line per error."""
    return [f"{_loc(prefix + tuple(err['loc']))}: {err['msg']}" for err in exc.errors(include_url=False)]


def parse_config(data: Any, source: str = "<config>") -> EvaluatorsConfig:
    """Validate a decoded bindings file: the structure, each evaluator's params and every name it refers to."""
    from glassbox.evaluators.registry import check_references

    if data is None:
        data = {}
    try:
        config = EvaluatorsConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(_message(source, describe(exc))) from None
    problems = check_references(config)
    if problems:
        raise ConfigFileError(_message(source, problems))
    return config


def _message(source: str, lines: list[str]) -> str:
    return f"invalid evaluator config {source}:\n" + "\n".join(f"  {line}" for line in lines)


def load_config(path: Path | str | None = None) -> EvaluatorsConfig:
    """Read and validate the bindings file at ``path`` (None: the default shipped with the package)."""
    if path is None:
        text = default_config_text()
        source = f"(built-in {DEFAULT_CONFIG})"
    else:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigFileError(f"cannot read evaluator config {source}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"invalid evaluator config {source}: not valid YAML: {exc}") from None
    return parse_config(data, source)


def default_config_text() -> str:
    """The default bindings file shipped inside the package (deploy/evaluators.yaml mirrors it)."""
    return resources.files("glassbox.evaluators").joinpath(DEFAULT_CONFIG).read_text()
