"""Dataset items as JSON lines: one object per line (see :class:`~glassbox.datasets.models.ItemLine`).

Export writes every field of every item, with the dataset name and version; import reads the
same format (and the minimal ``{"input": ...}``), so an exported dataset imported elsewhere has
the same ids, inputs, contexts, expected outputs, tags, metadata and source trace ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from pydantic import ValidationError

from glassbox.datasets.models import DatasetItem, ItemLine, now_ms


class JsonlError(ValueError):
    """A line of the file is not a dataset item; the message names the line and the field."""


def read_items(lines: Iterable[str], source: str = "<jsonl>") -> list[DatasetItem]:
    """Items of a JSONL file; blank lines are skipped; a repeated id keeps the last line's item."""
    stamp = now_ms()
    items: dict[str, DatasetItem] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed = ItemLine.model_validate_json(line)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}" for err in exc.errors()
            )
            raise JsonlError(f"{source}:{number}: {problems}") from None
        item = parsed.to_item(stamp)
        items[item.item_id] = item
    return list(items.values())


def write_items(out: TextIO, items: Iterable[DatasetItem], dataset: str, version: int) -> int:
    """Write items as JSON lines; returns how many."""
    count = 0
    for item in items:
        out.write(ItemLine.of(item, dataset, version).model_dump_json() + "\n")
        count += 1
    return count
