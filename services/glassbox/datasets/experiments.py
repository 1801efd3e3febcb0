"""Experiments in ClickHouse: the experiment rows and their per-item results."""

from __future__ import annotations

from glassbox.datasets.backend import Backend
from glassbox.datasets.models import Experiment, ItemResult, now_ms
from glassbox.datasets.tables import experiment_from_row, experiment_row, result_from_row, result_row

EXPERIMENT_COLUMNS = (
    "ExperimentId, Name, Dataset, DatasetVersion, Target, PromptName, PromptVersion, Evaluators, Parameters, Status, "
    "ItemCount, StartedAt, FinishedAt"
)
GET_SQL = f"SELECT {EXPERIMENT_COLUMNS} FROM {{db}}.experiments FINAL WHERE startsWith(ExperimentId, {{id:String}})"
BY_NAME_SQL = f"SELECT {EXPERIMENT_COLUMNS} FROM {{db}}.experiments FINAL WHERE Name = {{name:String}}"
LIST_SQL = f"SELECT {EXPERIMENT_COLUMNS} FROM {{db}}.experiments FINAL ORDER BY StartedAt DESC LIMIT {{limit:UInt32}}"
ITEMS_SQL = (
    "SELECT ExperimentId, ItemId, TraceId, Status, Error, Output, LatencyMs, InputTokens, OutputTokens, CostUsd, "
    "Evaluations, CreatedAt FROM {db}.experiment_items FINAL WHERE ExperimentId = {id:String} ORDER BY ItemId"
)
DONE_SQL = "SELECT ItemId FROM {db}.experiment_items FINAL WHERE ExperimentId = {id:String} AND Status = 'ok'"


class ExperimentNotFoundError(LookupError):
    """No experiment with that id (or prefix, or name), or several."""


class ExperimentStore:
    """Experiment operations over a :class:`~glassbox.datasets.backend.Backend`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def find(self, ref: str) -> Experiment | None:
        """The experiment with id ``ref`` (or a unique id prefix, or a unique name); None when there is none."""
        rows = self.backend.rows(GET_SQL, {"id": ref}) if ref else []
        if not rows:
            rows = self.backend.rows(BY_NAME_SQL, {"name": ref})
        if len(rows) > 1:
            exact = [r for r in rows if r["ExperimentId"] == ref]
            if len(exact) != 1:
                ids = ", ".join(sorted(r["ExperimentId"] for r in rows))
                raise ExperimentNotFoundError(f"{ref!r} matches several experiments: {ids}")
            rows = exact
        return experiment_from_row(rows[0]) if rows else None

    def get(self, ref: str) -> Experiment:
        found = self.find(ref)
        if found is None:
            raise ExperimentNotFoundError(f"no experiment {ref!r} (see `glassbox experiment list`)")
        return found

    def recent(self, limit: int = 50) -> list[Experiment]:
        return [experiment_from_row(r) for r in self.backend.rows(LIST_SQL, {"limit": limit})]

    def results(self, experiment_id: str) -> list[ItemResult]:
        return [result_from_row(r) for r in self.backend.rows(ITEMS_SQL, {"id": experiment_id})]

    def done_items(self, experiment_id: str) -> set[str]:
        """Items that already ran successfully (a resumed run skips them)."""
        return {str(r["ItemId"]) for r in self.backend.rows(DONE_SQL, {"id": experiment_id})}

    def save(self, experiment: Experiment) -> None:
        self.backend.write("experiments", [experiment_row(experiment, now_ms())])

    def save_result(self, result: ItemResult) -> None:
        self.backend.write("experiment_items", [result_row(result)])
