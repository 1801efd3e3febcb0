"""Datasets in ClickHouse: versions, items, and changes that make new versions.

Every change writes a complete new version (copy-on-write): the previous version's items with
the change applied, then the version row that makes it visible. Adding an item whose id is
already there replaces it (same input and context = same case); a change that changes nothing
makes no version.
"""

from __future__ import annotations

from collections.abc import Iterable

from glassbox.datasets.backend import Backend
from glassbox.datasets.models import DatasetItem, DatasetVersion, check_name, now_ms
from glassbox.datasets.tables import item_from_row, item_row, version_from_row, version_row

VERSIONS_SQL = (
    "SELECT Dataset, Version, ParentVersion, ItemCount, Note, CreatedAt FROM {db}.dataset_versions FINAL "
    "WHERE Dataset = {name:String} ORDER BY Version"
)
ALL_VERSIONS_SQL = (
    "SELECT Dataset, Version, ParentVersion, ItemCount, Note, CreatedAt FROM {db}.dataset_versions FINAL "
    "ORDER BY Dataset, Version"
)
ITEMS_SQL = (
    "SELECT ItemId, Input, Context, Expected, SourceTraceId, Tags, Metadata, CreatedAt FROM {db}.dataset_items FINAL "
    "WHERE Dataset = {name:String} AND Version = {version:UInt32} ORDER BY CreatedAt, ItemId"
)


class DatasetNotFoundError(LookupError):
    """No such dataset, or no such version of it."""


def _same(a: DatasetItem, b: DatasetItem) -> bool:
    return a.model_dump(exclude={"created_at_ms"}) == b.model_dump(exclude={"created_at_ms"})


class DatasetStore:
    """Dataset operations over a :class:`~glassbox.datasets.backend.Backend`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    # ------------------------------------------------------------------ reading

    def datasets(self) -> list[DatasetVersion]:
        """The latest version of every dataset, by name."""
        latest: dict[str, DatasetVersion] = {}
        for row in self.backend.rows(ALL_VERSIONS_SQL):
            version = version_from_row(row)
            latest[version.dataset] = version
        return [latest[name] for name in sorted(latest)]

    def versions(self, name: str) -> list[DatasetVersion]:
        return [version_from_row(r) for r in self.backend.rows(VERSIONS_SQL, {"name": name})]

    def resolve(self, name: str, version: int | None = None) -> DatasetVersion:
        """``name@version`` (the latest when None); DatasetNotFoundError when it does not exist."""
        versions = self.versions(name)
        if not versions:
            raise DatasetNotFoundError(f"no dataset {name!r} (see `glassbox dataset list`)")
        if version is None:
            return versions[-1]
        for candidate in versions:
            if candidate.version == version:
                return candidate
        raise DatasetNotFoundError(f"dataset {name!r} has no version {version} (latest is {versions[-1].version})")

    def items(self, name: str, version: int) -> list[DatasetItem]:
        return [item_from_row(r) for r in self.backend.rows(ITEMS_SQL, {"name": name, "version": version})]

    # ------------------------------------------------------------------ changing

    def add(self, name: str, new_items: Iterable[DatasetItem], note: str = "") -> tuple[DatasetVersion, int, int]:
        """Add (or replace by id) items in a new version: (the version now current, items added, items replaced).

        When every item is already there unchanged, no version is made and the current one is returned.
        """
        check_name("dataset", name)
        current = self._current(name)
        items = {i.item_id: i for i in self.items(name, current.version)} if current else {}
        added = replaced = 0
        stamp = now_ms()
        seen: set[str] = set()
        for item in new_items:
            old = items.get(item.item_id)
            if old is not None and _same(old, item):
                continue
            if item.item_id not in seen:  # a case given twice in one change counts once (the last one wins)
                added += old is None
                replaced += old is not None
            seen.add(item.item_id)
            items[item.item_id] = item.model_copy(
                update={"created_at_ms": old.created_at_ms if old is not None else (item.created_at_ms or stamp)}
            )
        if current is not None and not added and not replaced:
            return current, 0, 0
        version = self._write(name, current, list(items.values()), note)
        return version, added, replaced

    def remove(self, name: str, item_ids: Iterable[str], note: str = "") -> tuple[DatasetVersion, int]:
        """Remove items by id in a new version: (the version now current, items removed)."""
        current = self.resolve(name)
        wanted = set(item_ids)
        items = self.items(name, current.version)
        kept = [i for i in items if i.item_id not in wanted]
        if len(kept) == len(items):
            return current, 0
        return self._write(name, current, kept, note or f"removed {len(items) - len(kept)} item(s)"), len(items) - len(
            kept
        )

    def _current(self, name: str) -> DatasetVersion | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def _write(self, name: str, parent: DatasetVersion | None, items: list[DatasetItem], note: str) -> DatasetVersion:
        number = (parent.version if parent else 0) + 1
        stamp = now_ms()
        self.backend.write("dataset_items", [item_row(name, number, item, stamp) for item in items])
        version = DatasetVersion(
            dataset=name,
            version=number,
            parent_version=parent.version if parent else 0,
            item_count=len(items),
            note=note[:1000],
            created_at_ms=stamp,
        )
        self.backend.write("dataset_versions", [version_row(version)])
        return version
