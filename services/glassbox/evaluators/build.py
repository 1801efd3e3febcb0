"""Putting a worker's evaluation machinery together from the config file and the settings.

:func:`build_runner` builds the judge clients (one per judge used, sharing one concurrency
semaphore), every configured evaluator, the limiter and the runner. What a judge does not set
(model, api_base, api_key_env; a judge not declared under ``judges`` sets nothing) comes from
GLASSBOX_EVAL_JUDGE_MODEL, GLASSBOX_EVAL_JUDGE_API_BASE and GLASSBOX_EVAL_JUDGE_API_KEY_ENV.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from glassbox.common.settings import EvaluatorSettings
from glassbox.evaluators.config import EvaluatorsConfig, EvaluatorSpec, JudgeConfig
from glassbox.evaluators.judge.client import JudgeClient
from glassbox.evaluators.judge.evaluators import JudgeEvaluator
from glassbox.evaluators.limits import Limiter, SpendLedger
from glassbox.evaluators.registry import BUILTIN_TYPES, Registry, build_registry
from glassbox.evaluators.runner import Runner


@dataclass
class Judges:
    """The judge clients of a worker, created on first use."""

    config: EvaluatorsConfig
    settings: EvaluatorSettings
    semaphore: asyncio.Semaphore
    clients: dict[str, JudgeClient] = field(default_factory=dict)

    def client(self, name: str) -> JudgeClient:
        if name not in self.clients:
            self.clients[name] = JudgeClient(
                name,
                self.config.judges.get(name) or JudgeConfig(),
                default_model=self.settings.judge_model,
                default_api_base=self.settings.judge_api_base,
                default_api_key_env=self.settings.judge_api_key_env,
                semaphore=self.semaphore,
            )
        return self.clients[name]

    def evaluator(self, name: str, spec: EvaluatorSpec) -> JudgeEvaluator:
        cls = BUILTIN_TYPES[spec.type]
        assert issubclass(cls, JudgeEvaluator)
        params = cls.params_model.model_validate(spec.params)
        return cls(name, spec.version, params, spec.failure_category, self.client(spec.judge), spec.prompt_version)


def build_runner(
    config: EvaluatorsConfig,
    settings: EvaluatorSettings,
    *,
    ledger: SpendLedger | None = None,
    clock: Callable[[], float] = time.time,
    on_refused: Callable[[str, str], None] | None = None,
) -> tuple[Runner, Judges]:
    """The runner for ``config`` (raises ConfigFileError when a custom function cannot be loaded)."""
    judges = Judges(config, settings, asyncio.Semaphore(settings.judge_concurrency))
    registry: Registry = build_registry(config, judges.evaluator)
    limiter = Limiter.from_config(config, ledger, clock)
    runner = Runner(registry, limiter, on_refused=on_refused, keep_not_applicable=settings.keep_not_applicable)
    return runner, judges
