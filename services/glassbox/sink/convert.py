"""Value conversions shared by the row processors: JSON text and OTel-style attribute text."""

from __future__ import annotations

from typing import Any

import pydantic_core

PREVIEW_CHARS = 1024


def json_text(value: Any) -> str:
    """Compact JSON of a value; '' for None (so 'no value' and 'null' read the same)."""
    if value is None:
        return ""
    return pydantic_core.to_json(value, inf_nan_mode="strings").decode("utf-8")


def attr_text(value: Any) -> str:
    """An attribute value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else pydantic_core.to_json(value, inf_nan_mode="strings").decode()


def text_map(values: dict[str, Any]) -> dict[str, str]:
    """A Map(String, String) value: None entries dropped, the rest through :func:`attr_text`."""
    return {key: attr_text(value) for key, value in values.items() if value is not None}


def preview(raw: bytes, limit: int = PREVIEW_CHARS) -> str:
    """The start of some bytes as readable text: invalid UTF-8 replaced, at most ``limit`` characters."""
    return raw[: limit * 4].decode("utf-8", "replace")[:limit]
