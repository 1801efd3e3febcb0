"""Evaluator types by config name, reference checks of the bindings file, and building the configured evaluators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from pydantic import ValidationError

from glassbox.evaluators.config import EvaluatorsConfig, EvaluatorSpec, describe
from glassbox.evaluators.judge.evaluators import JUDGE_TYPES
from glassbox.evaluators.judge.prompts import available_versions
from glassbox.evaluators.rules.loops import IterationLimit, LoopDetector
from glassbox.evaluators.rules.retrieval import EmptyRetrieval, RefusalWithContext
from glassbox.evaluators.rules.spikes import CostSpike, LatencySpike, TokenSpike
from glassbox.evaluators.rules.structure import JsonValidity, LengthBounds, RegexMatch
from glassbox.evaluators.rules.tools import ToolArguments, UnhandledToolError
from glassbox.evaluators.statistical.retrieval_scores import RetrievalScores
from glassbox.evaluators.statistical.similarity import SemanticSimilarity
from glassbox.evaluators.types import Evaluator

ENTRY_POINT_GROUP = "glassbox.evaluators"
CUSTOM = "custom"

_TYPES: tuple[type[Evaluator], ...] = (
    JsonValidity,
    RegexMatch,
    LengthBounds,
    ToolArguments,
    UnhandledToolError,
    LoopDetector,
    IterationLimit,
    EmptyRetrieval,
    RefusalWithContext,
    LatencySpike,
    TokenSpike,
    CostSpike,
    SemanticSimilarity,
    RetrievalScores,
    *JUDGE_TYPES,
)
BUILTIN_TYPES: dict[str, type[Evaluator]] = {cls.type_name: cls for cls in _TYPES}
"""Built-in evaluator types by their config ``type``."""


def entry_point_names() -> set[str]:
    return {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


def spec_for(config: EvaluatorsConfig, name: str) -> EvaluatorSpec | None:
    """The spec of a bound evaluator name: declared, a built-in type with defaults, or an entry point."""
    if name in config.evaluators:
        return config.evaluators[name]
    if name in BUILTIN_TYPES:
        return EvaluatorSpec(type=name)
    if name in entry_point_names():
        return EvaluatorSpec(type=CUSTOM, entry_point=name)
    return None


def check_references(config: EvaluatorsConfig) -> list[str]:
    """Problems a valid structure can still have: unknown types, bad params, unknown judges or names."""
    problems: list[str] = []
    for name, spec in config.evaluators.items():
        at = ("evaluators", name)
        if spec.type == CUSTOM:
            if (spec.function is None) == (spec.entry_point is None):
                problems.append(f"evaluators.{name}: a custom evaluator needs exactly one of function or entry_point")
            continue
        cls = BUILTIN_TYPES.get(spec.type)
        if cls is None:
            known = ", ".join(sorted([*BUILTIN_TYPES, CUSTOM]))
            problems.append(f"evaluators.{name}.type: unknown evaluator type {spec.type!r} (known: {known})")
            continue
        try:
            cls.params_model.model_validate(spec.params)
        except ValidationError as exc:
            problems.extend(describe(exc, (*at, "params")))
        if cls in JUDGE_TYPES:
            if spec.judge != "default" and spec.judge not in config.judges:
                problems.append(f"evaluators.{name}.judge: no judge named {spec.judge!r} under judges")
            versions = available_versions(spec.type)
            if spec.prompt_version is not None and spec.prompt_version not in versions:
                problems.append(
                    f"evaluators.{name}.prompt_version: no prompt {spec.type}/{spec.prompt_version}.md "
                    f"(have {', '.join(versions)})"
                )
    seen: set[str] = set()
    for i, binding in enumerate(config.bindings):
        if binding.name in seen:
            problems.append(f"bindings[{i}].name: duplicate binding name {binding.name!r}")
        seen.add(binding.name)
        for j, name in enumerate(binding.evaluators):
            if spec_for(config, name) is None:
                problems.append(
                    f"bindings[{i}].evaluators[{j}]: unknown evaluator {name!r} "
                    "(declare it under evaluators, use a built-in type, or install an entry point)"
                )
    return problems


@dataclass
class Registry:
    """The configured evaluators by name, built once per process."""

    evaluators: dict[str, Evaluator] = field(default_factory=dict)

    def get(self, name: str) -> Evaluator | None:
        return self.evaluators.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.evaluators

    def names(self) -> list[str]:
        return sorted(self.evaluators)


def bound_names(config: EvaluatorsConfig) -> list[str]:
    """Every evaluator name a binding uses, plus every declared one, in a stable order."""
    names: dict[str, None] = dict.fromkeys(config.evaluators)
    for binding in config.bindings:
        names.update(dict.fromkeys(binding.evaluators))
    return list(names)


def build_registry(config: EvaluatorsConfig, make_judge: Callable[[str, EvaluatorSpec], Evaluator]) -> Registry:
    """Instantiate every evaluator the config names. ``make_judge`` builds LLM-judge evaluators
    (it owns the judge clients); custom functions are imported here and fail with a ConfigFileError."""
    from glassbox.evaluators.custom import build_custom

    registry = Registry()
    for name in bound_names(config):
        spec = spec_for(config, name)
        assert spec is not None  # parse_config checked every name
        if spec.type == CUSTOM:
            registry.evaluators[name] = build_custom(name, spec)
            continue
        cls = BUILTIN_TYPES[spec.type]
        if cls in JUDGE_TYPES:
            registry.evaluators[name] = make_judge(name, spec)
            continue
        params = cls.params_model.model_validate(spec.params)
        registry.evaluators[name] = cls(name, spec.version, params, spec.failure_category)
    return registry
