"""Datasets and prompts in chDB: the migrated tables, copy-on-write versions, replacing re-adds, prompt versions."""

from __future__ import annotations

import pytest

from glassbox.common.clickhouse import Client
from glassbox.common.settings import ClickHouseSettings
from glassbox.datasets.backend import Backend, direct
from glassbox.datasets.models import DatasetItem
from glassbox.datasets.prompts import PromptNotFoundError, PromptRegistry
from glassbox.datasets.store import DatasetNotFoundError, DatasetStore
from glassbox.datasets.tables import COLUMNS, item_row


@pytest.fixture
def backend(migrated: Client, ch_settings: ClickHouseSettings) -> Backend:
    """Direct storage on the test's migrated database."""
    return direct(migrated, ch_settings)


def item(key: str, expected: str | None = None) -> DatasetItem:
    return DatasetItem(item_id=f"item-{key}", input={"question": key}, expected=expected)


def test_migrations_create_every_table_with_the_columns_this_package_writes(backend: Backend) -> None:
    """0009-0011 create dataset_items, dataset_versions, prompts, prompt_labels, experiments and experiment_items
    with exactly the columns of glassbox.datasets.tables, in order."""
    for table, columns in COLUMNS.items():
        rows = backend.rows(
            "SELECT name FROM system.columns WHERE database = {d:String} AND table = {t:String} ORDER BY position",
            {"d": backend.database, "t": table},
        )
        assert tuple(r["name"] for r in rows) == columns, table


def test_changes_make_new_immutable_versions(backend: Backend) -> None:
    """Each change writes a complete version; earlier versions keep their items; no-op changes make none."""
    store = DatasetStore(backend)
    v1, added, replaced = store.add("golden", [item("a", "A"), item("b", "B")], "first two")
    assert (v1.version, added, replaced, v1.item_count) == (1, 2, 0, 2)
    v2, added, replaced = store.add("golden", [item("b", "B2"), item("c")], "fix b, add c")
    assert (v2.version, v2.parent_version, added, replaced, v2.item_count) == (2, 1, 1, 1, 3)
    assert {i.item_id: i.expected for i in store.items("golden", 1)} == {"item-a": "A", "item-b": "B"}
    assert {i.item_id: i.expected for i in store.items("golden", 2)} == {"item-a": "A", "item-b": "B2", "item-c": None}
    same, added, replaced = store.add("golden", [item("c"), item("a", "A")])
    assert (same.version, added, replaced) == (2, 0, 0)
    v3, removed = store.remove("golden", ["item-a", "item-zzz"])
    assert (v3.version, removed, v3.item_count) == (3, 1, 2)
    assert [v.note for v in store.versions("golden")] == ["first two", "fix b, add c", "removed 1 item(s)"]
    assert [(d.dataset, d.version) for d in store.datasets()] == [("golden", 3)]
    assert store.resolve("golden").version == 3 and store.resolve("golden", 1).item_count == 2
    with pytest.raises(DatasetNotFoundError, match="has no version 9"):
        store.resolve("golden", 9)


def test_a_first_added_item_keeps_its_creation_time_across_versions(backend: Backend) -> None:
    """An item carried into later versions (or replaced) keeps the time it was first added."""
    store = DatasetStore(backend)
    store.add("golden", [item("a")])
    first = store.items("golden", 1)[0].created_at_ms
    store.add("golden", [item("b")])
    store.add("golden", [item("a", "now with an answer")])
    assert [i.created_at_ms for i in store.items("golden", 3) if i.item_id == "item-a"] == [first]


def test_writing_the_same_rows_again_replaces_instead_of_duplicating(backend: Backend) -> None:
    """A redelivered record (same dataset, version and item id) leaves one row per item under FINAL."""
    store = DatasetStore(backend)
    store.add("golden", [item("a"), item("b")])
    rows = [item_row("golden", 1, i, 2_000_000_000_000) for i in store.items("golden", 1)]
    backend.write("dataset_items", rows)
    backend.write("dataset_items", rows)
    assert len(store.items("golden", 1)) == 2


def test_prompts_are_versioned_labelled_and_never_duplicated(backend: Backend) -> None:
    """Versions count from 1; re-adding the latest template makes none; labels move; latest is the highest."""
    registry = PromptRegistry(backend)
    messages = [{"role": "user", "content": "Q: {{question}}"}]
    p1, created = registry.add("answer", messages, model="openai/m", parameters={"temperature": 0.2})
    assert (p1.ref, created, p1.variables) == ("answer@1", True, ["question"])
    again, created = registry.add("answer", messages, model="openai/m", parameters={"temperature": 0.2})
    assert (again.ref, created) == ("answer@1", False)
    p2, _ = registry.add("answer", messages, model="openai/m", parameters={"temperature": 0.0}, labels=("staging",))
    assert p2.ref == "answer@2"
    registry.set_label("answer", "production", 1)
    assert registry.labels("answer") == {"production": 1, "staging": 2}
    assert registry.get("answer").version == 2
    assert registry.get("answer", label="production").parameters == {"temperature": 0.2}
    registry.set_label("answer", "production", 2)
    assert registry.get("answer", label="production").version == 2
    with pytest.raises(PromptNotFoundError, match="no label 'canary'"):
        registry.get("answer", label="canary")
    with pytest.raises(PromptNotFoundError, match="no version 5"):
        registry.set_label("answer", "production", 5)


def test_a_case_given_twice_in_one_change_counts_once_and_the_last_wins(backend: Backend) -> None:
    """Two traces with the same question in one `dataset add`: one item (the later one), counted once."""
    version, added, replaced = DatasetStore(backend).add("golden", [item("a", "first"), item("a", "second")])
    assert (version.item_count, added, replaced) == (1, 1, 0)
    assert [i.expected for i in DatasetStore(backend).items("golden", 1)] == ["second"]
