"""Versioned judge prompts: ``prompts/<evaluator type>/<version>.md``, with ``{{placeholders}}``.

A prompt file never changes once released; a change is a new version file, and the version is
part of the evaluator version (so a new prompt re-evaluates traces instead of mixing verdicts).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_VERSION = re.compile(r"^v(\d+)\.md$")


@lru_cache(maxsize=64)
def available_versions(evaluator_type: str) -> tuple[str, ...]:
    """Prompt versions shipped for a judge type, oldest first (v1, v2, ...)."""
    folder = resources.files("glassbox.evaluators.judge").joinpath("prompts", evaluator_type)
    if not folder.is_dir():
        return ()
    found = [(int(m.group(1)), entry.name[:-3]) for entry in folder.iterdir() if (m := _VERSION.match(entry.name))]
    return tuple(name for _, name in sorted(found))


@lru_cache(maxsize=64)
def load_prompt(evaluator_type: str, version: str | None = None) -> tuple[str, str]:
    """(version, template) of a judge prompt; the newest version when none is asked for."""
    versions = available_versions(evaluator_type)
    if not versions:
        raise LookupError(f"no prompt files for judge type {evaluator_type!r}")
    chosen = version or versions[-1]
    if chosen not in versions:
        raise LookupError(f"no prompt {evaluator_type}/{chosen}.md (have {', '.join(versions)})")
    path = resources.files("glassbox.evaluators.judge").joinpath("prompts", evaluator_type, f"{chosen}.md")
    return chosen, path.read_text()


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{{name}}`` placeholders; a placeholder without a value becomes '(none)'."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or "(none)", template)
