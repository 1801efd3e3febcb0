"""Where the contract files (schemas/) are: the checkout's schemas/ or the copy inside the wheel."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def contract_dir() -> Path:
    """The schemas/ directory: GLASSBOX_SCHEMAS_DIR, the source checkout, or the wheel's bundled copy."""
    override = os.environ.get("GLASSBOX_SCHEMAS_DIR")
    if override:
        return Path(override)
    checkout = _PACKAGE.parent.parent / "schemas"
    if checkout.is_dir():
        return checkout
    return _PACKAGE / "_contract"


def migrations_dir() -> Path:
    return contract_dir() / "clickhouse" / "migrations"
