"""Turning arbitrary application values into JSON that is safe to send.

Never raises. Unserialisable objects become their (capped) repr, cycles and
over-deep nesting become markers, NaN and infinities become strings, invalid
UTF-8 is replaced, bytes are decoded or base64-previewed, and a value whose
JSON exceeds the size cap is replaced by a :class:`~glassbox.models.span.TruncatedValue`
marker (``{"glassbox.truncated": true, "original_bytes": N, ...}``) with the cut
recorded in the span's ``truncations`` list. Strings pass through the redactor.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import pydantic_core

from glassbox.models.span import TRUNCATED_MARKER
from glassbox.sdk.redact import REDACTED, Redactor

MAX_ITEMS = 1000
"""Items kept per list or mapping; the rest is summarised by a marker."""
_BIG_INT = 1 << 63


def marker(original_bytes: int, reason: str, preview: str) -> dict[str, Any]:
    return {TRUNCATED_MARKER: True, "original_bytes": original_bytes, "reason": reason, "preview": preview}


def _safe_repr(value: object, limit: int) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a hostile __repr__
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return _clean_str(text[:limit])


_SURROGATES = re.compile("[\ud800-\udfff]")


def _clean_str(value: str) -> str:
    """Replace lone surrogates (unencodable in UTF-8) with U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", value)


class Capturer:
    """Converts values to capped, redacted JSON-safe data and records what was cut."""

    def __init__(
        self,
        max_value_bytes: int = 32_768,
        max_depth: int = 20,
        redactor: Redactor | None = None,
        max_attributes: int = 128,
    ):
        self.max_value_bytes = max_value_bytes
        self.max_depth = max_depth
        self.max_attributes = max_attributes
        self.redactor = redactor if redactor is not None and redactor.active else None

    def capture(self, value: Any, path: str, truncations: list[dict[str, Any]]) -> Any:
        """JSON-safe copy of ``value``; cuts are appended to ``truncations`` as {path, original_bytes, reason}."""
        try:
            if isinstance(value, str):
                return self._string(value, path, truncations)
            size = [0]
            data = self._convert(value, 0, set(), path, truncations, size)
            if isinstance(data, str | int | float | bool) or data is None:
                return data
            if size[0] * 4 <= self.max_value_bytes:  # certainly small enough: skip measuring
                return data
            text = pydantic_core.to_json(data).decode("utf-8")
            nbytes = len(text.encode("utf-8"))
            if nbytes > self.max_value_bytes:
                truncations.append({"path": path, "original_bytes": nbytes, "reason": "size"})
                return marker(nbytes, "size", _cut_utf8(text, self.max_value_bytes))
            return data
        except Exception as exc:  # last resort: never let a value break the span
            truncations.append({"path": path, "original_bytes": 0, "reason": "unserializable"})
            return marker(0, "unserializable", f"<capture failed: {type(exc).__name__}>")

    def short_text(self, value: Any, limit: int) -> str:
        """A string field that must stay a string: redacted, valid UTF-8, cut to ``limit`` characters."""
        text = (
            value
            if isinstance(value, str)
            else _safe_repr(value, limit)
            if not isinstance(value, int | float)
            else str(value)
        )
        text = _clean_str(text if len(text) <= limit else text[: limit - 1] + "…")
        if self.redactor is not None:
            text = self.redactor.text(text)
        return text

    # ------------------------------------------------------------------ internals

    def _string(self, value: str, path: str, truncations: list[dict[str, Any]]) -> Any:
        limit = self.max_value_bytes
        if len(value) * 4 > limit:  # possibly too big: measure exactly
            size = len(value.encode("utf-8", "replace"))
            if size > limit:
                truncations.append({"path": path, "original_bytes": size, "reason": "size"})
                preview = _clean_str(value[: limit // 2])
                if self.redactor is not None:
                    preview = self.redactor.text(preview)
                return marker(size, "size", _cut_utf8(preview, limit))
        if not value.isascii():
            value = _clean_str(value)
        if self.redactor is not None:
            value = self.redactor.text(value)
        return value

    def _convert(
        self, value: Any, depth: int, active: set[int], path: str, cuts: list[dict[str, Any]], size: list[int]
    ) -> Any:
        size[0] += 8
        kind = type(value)
        if kind is str:
            size[0] += len(value)
            return self._string(value, path, cuts)
        if value is None or kind is bool:
            return value
        if kind is int:
            return value if -_BIG_INT <= value < _BIG_INT else str(value)
        if kind is float and math.isfinite(value):
            return value
        if (kind is dict or kind is list) and depth < self.max_depth:
            ident = id(value)
            if ident in active:
                cuts.append({"path": path, "original_bytes": 0, "reason": "cycle"})
                return marker(0, "cycle", f"<cycle: {kind.__name__}>")
            active.add(ident)
            try:
                if kind is dict:
                    return self._mapping(value, depth, active, path, cuts, size)
                return self._sequence(value, depth, active, path, cuts, size)
            finally:
                active.discard(ident)
        return self._convert_other(value, depth, active, path, cuts, size)

    def _convert_other(
        self, value: Any, depth: int, active: set[int], path: str, cuts: list[dict[str, Any]], size: list[int]
    ) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            size[0] += len(value)
            return self._string(value, path, cuts)
        if isinstance(value, int):
            return value if -_BIG_INT <= value < _BIG_INT else str(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return value
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if depth >= self.max_depth:
            cuts.append({"path": path, "original_bytes": 0, "reason": "depth"})
            return marker(0, "depth", _safe_repr(value, 200))
        if isinstance(value, bytes | bytearray | memoryview):
            return self._bytes(bytes(value), path, cuts)
        if isinstance(value, enum.Enum):
            return self._convert(value.value, depth + 1, active, path, cuts, size)
        if isinstance(value, dt.datetime | dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, uuid.UUID | Decimal | PurePath | complex):
            return str(value)

        ident = id(value)
        if ident in active:
            cuts.append({"path": path, "original_bytes": 0, "reason": "cycle"})
            return marker(0, "cycle", f"<cycle: {type(value).__name__}>")
        active.add(ident)
        try:
            return self._container(value, depth, active, path, cuts, size)
        finally:
            active.discard(ident)

    def _container(
        self, value: Any, depth: int, active: set[int], path: str, cuts: list[dict[str, Any]], size: list[int]
    ) -> Any:
        if isinstance(value, Mapping):
            return self._mapping(value, depth, active, path, cuts, size)
        if isinstance(value, list | tuple | set | frozenset):
            return self._sequence(value, depth, active, path, cuts, size)
        model_dump = getattr(value, "model_dump", None)
        if callable(model_dump) and not isinstance(value, type):  # pydantic v2 models
            try:
                return self._convert(model_dump(mode="json"), depth + 1, active, path, cuts, size)
            except Exception:
                return _safe_repr(value, self.max_value_bytes)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
            return self._mapping(fields, depth, active, path, cuts, size)
        if isinstance(value, BaseException):
            return {"type": type(value).__name__, "message": _safe_repr(str(value), 2000)}
        tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
        if callable(tolist) and getattr(value, "size", MAX_ITEMS + 1) <= MAX_ITEMS:
            try:
                return self._convert(tolist(), depth + 1, active, path, cuts, size)
            except Exception:
                pass
        return self._string(_safe_repr(value, self.max_value_bytes), path, cuts)

    def _sequence(
        self, value: Any, depth: int, active: set[int], path: str, cuts: list[dict[str, Any]], size: list[int]
    ) -> list[Any]:
        items = value if type(value) is list else list(value)
        convert = self._convert
        out = [convert(v, depth + 1, active, path, cuts, size) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            cuts.append({"path": path, "original_bytes": 0, "reason": "size"})
            out.append(marker(0, "size", f"{len(items) - MAX_ITEMS} more items omitted"))
        return out

    def _mapping(
        self,
        value: Mapping[Any, Any],
        depth: int,
        active: set[int],
        path: str,
        cuts: list[dict[str, Any]],
        size: list[int],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            items = list(value.items())
        except Exception:  # mapping mutated concurrently or hostile items()
            return {"repr": _safe_repr(value, 2000)}
        redactor = self.redactor
        for i, (key, item) in enumerate(items):
            if i >= MAX_ITEMS:
                cuts.append({"path": path, "original_bytes": 0, "reason": "size"})
                out[TRUNCATED_MARKER] = marker(0, "size", f"{len(items) - MAX_ITEMS} more keys omitted")
                break
            name = key if type(key) is str else _safe_repr(key, 200)
            if not name.isascii():
                name = _clean_str(name)
            size[0] += len(name)
            rule = redactor.field(name) if redactor is not None else None
            if rule is None:
                out[name] = self._convert(item, depth + 1, active, path, cuts, size)
            elif isinstance(rule, str):
                out[name] = rule if rule else REDACTED
            else:
                try:
                    out[name] = self._convert(rule(item), depth + 1, active, path, cuts, size)
                except Exception:
                    out[name] = REDACTED
        return out

    def _bytes(self, value: bytes, path: str, cuts: list[dict[str, Any]]) -> Any:
        try:
            return self._string(value.decode("utf-8"), path, cuts)
        except UnicodeDecodeError:
            keep = value[: max(16, self.max_value_bytes // 2)]
            return {"glassbox.binary": True, "bytes": len(value), "base64": base64.b64encode(keep).decode()}


def _cut_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")
