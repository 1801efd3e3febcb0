"""``glassbox experiment run`` as a function: resolve the dataset version, prompt and target, then run.

::

    from glassbox.datasets.backend import open_backend
    from glassbox.datasets.plan import run_experiment

    report = run_experiment(open_backend(write=True), "support-golden", "myapp.answers:answer",
                            prompt_ref="support-answer@4", name="shorter-context")

The dataset reference and the prompt reference are pinned to versions before the experiment id
is computed (``golden`` means its latest version *now*), so the id names exactly what ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glassbox.datasets.backend import Backend
from glassbox.datasets.capture import litellm_captured
from glassbox.datasets.experiments import ExperimentStore
from glassbox.datasets.models import Experiment, ItemResult, experiment_id_for, now_ms, split_ref
from glassbox.datasets.prompts import PromptRegistry, parse_prompt_ref
from glassbox.datasets.runner import RunReport, execute
from glassbox.datasets.scoring import ExperimentScorer
from glassbox.datasets.store import DatasetStore
from glassbox.datasets.target import resolve_target


def plan_experiment(
    backend: Backend,
    dataset_ref: str | None,
    target: str | None,
    *,
    prompt_ref: str | None = None,
    evaluators: list[str] | None = None,
    name: str = "",
    resume: str | None = None,
    concurrency: int = 4,
) -> tuple[Experiment, Any]:
    """The experiment to run (new, or the stored one with ``resume``) and its prompt (None without one)."""
    registry = PromptRegistry(backend)
    store = ExperimentStore(backend)
    if resume:
        stored = store.get(resume)
        prompt = registry.get(stored.prompt_name, int(stored.prompt_version)) if stored.prompt_name else None
        return stored, prompt
    if not dataset_ref or not target:
        raise ValueError("--dataset and --target are required (or --resume ID)")
    dataset, version = split_ref(dataset_ref, "dataset")
    pinned = DatasetStore(backend).resolve(dataset, version)
    prompt = None
    if prompt_ref:
        prompt_name, prompt_version, label = parse_prompt_ref(prompt_ref)
        prompt = registry.get(prompt_name, prompt_version, label)
    names = list(dict.fromkeys(evaluators or []))
    experiment_id = experiment_id_for(pinned.dataset, pinned.version, target, prompt.ref if prompt else "", names, name)
    existing = store.find(experiment_id)
    experiment = Experiment(
        experiment_id=experiment_id,
        name=name,
        dataset=pinned.dataset,
        dataset_version=pinned.version,
        target=target,
        prompt_name=prompt.name if prompt else "",
        prompt_version=str(prompt.version) if prompt else "",
        evaluators=names,
        parameters={"concurrency": concurrency},
        status="running",
        item_count=pinned.item_count,
        started_at_ms=existing.started_at_ms if existing else now_ms(),
    )
    return experiment, prompt


def run_experiment(
    backend: Backend,
    dataset_ref: str | None,
    target: str | None,
    *,
    prompt_ref: str | None = None,
    evaluators: list[str] | None = None,
    name: str = "",
    resume: str | None = None,
    concurrency: int = 4,
    force: bool = False,
    scorer: ExperimentScorer | None = None,
    instrument_litellm: bool = True,
    on_start: Callable[[Experiment, int, int], None] | None = None,
    on_done: Callable[[ItemResult], None] | None = None,
) -> RunReport:
    """Plan, then run or resume the experiment (see :func:`glassbox.datasets.runner.execute`)."""
    experiment, prompt = plan_experiment(backend, dataset_ref, target, prompt_ref=prompt_ref, evaluators=evaluators,
                                         name=name, resume=resume, concurrency=concurrency)  # fmt: skip
    items = DatasetStore(backend).items(experiment.dataset, experiment.dataset_version)
    fn = resolve_target(experiment.target)
    scorer = scorer or ExperimentScorer(experiment.evaluators)

    def started(total: int, skipped: int) -> None:
        if on_start is not None:
            on_start(experiment, total, skipped)

    with litellm_captured(instrument_litellm):
        return execute(backend, experiment, items, fn, prompt=prompt, scorer=scorer, concurrency=concurrency,
                       force=force, on_start=started, on_done=on_done)  # fmt: skip
