"""The prompt registry: versioned templates in ClickHouse, and :func:`get_prompt` for applications.

::

    from glassbox.datasets.prompts import get_prompt

    prompt = get_prompt("support-answer")                 # the latest version (or version=3, label="production")
    response = litellm.completion(**prompt.litellm_kwargs(context=ctx, question=q), api_base=...)

Versions are numbered per name from 1 and never change; adding a template identical to the
latest version (messages, model and parameters) returns that version instead of making a new one.
Labels (``production``, ``staging`` ...) point at a version and can move; ``latest`` is always the
highest version. :func:`get_prompt` reads through the same storage as the CLI (a ClickHouse
server, the running stack's read endpoint, or the embedded data) and caches what it read: a
version forever (it is immutable), a label or ``latest`` for ``ttl_s`` seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from glassbox.datasets.backend import Backend, open_backend
from glassbox.datasets.models import check_name, now_ms
from glassbox.datasets.prompt_template import Prompt, variables_of
from glassbox.datasets.tables import dump, load, millis

LATEST = "latest"
PROMPTS_SQL = (
    "SELECT Name, Version, Template, Model, Parameters, Description, CreatedAt FROM {db}.prompts FINAL "
    "WHERE Name = {name:String} ORDER BY Version"
)
ALL_PROMPTS_SQL = (
    "SELECT Name, Version, Template, Model, Parameters, Description, CreatedAt FROM {db}.prompts FINAL "
    "ORDER BY Name, Version"
)
LABELS_SQL = "SELECT Label, Version FROM {db}.prompt_labels FINAL WHERE Name = {name:String} ORDER BY Label"


class PromptNotFoundError(LookupError):
    """No such prompt, version or label."""


def parse_prompt_ref(ref: str) -> tuple[str, int | None, str]:
    """``name``, ``name@3``, ``name@latest`` or ``name@production`` → (name, version or None, label)."""
    name, _, after = ref.partition("@")
    check_name("prompt", name)
    if after.isdigit() and int(after) >= 1:
        return name, int(after), ""
    return name, None, after or LATEST


def prompt_row(prompt: Prompt) -> dict[str, Any]:
    return {
        "Name": prompt.name,
        "Version": prompt.version,
        "Template": dump(prompt.messages),
        "Model": prompt.model,
        "Parameters": dump(prompt.parameters),
        "Variables": prompt.variables,
        "Description": prompt.description,
        "CreatedAt": prompt.created_at_ms,
    }


def prompt_from_row(row: dict[str, Any]) -> Prompt:
    return Prompt(
        name=row["Name"],
        version=int(row["Version"]),
        messages=load(row["Template"]),
        model=row["Model"],
        parameters=load(row["Parameters"]) or {},
        description=row["Description"],
        created_at_ms=millis(row["CreatedAt"]),
    )


class PromptRegistry:
    """Prompt operations over a :class:`~glassbox.datasets.backend.Backend`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def versions(self, name: str) -> list[Prompt]:
        return [prompt_from_row(r) for r in self.backend.rows(PROMPTS_SQL, {"name": name})]

    def latest(self) -> list[Prompt]:
        """The latest version of every prompt, by name."""
        out: dict[str, Prompt] = {}
        for row in self.backend.rows(ALL_PROMPTS_SQL):
            prompt = prompt_from_row(row)
            out[prompt.name] = prompt
        return [out[n] for n in sorted(out)]

    def labels(self, name: str) -> dict[str, int]:
        return {r["Label"]: int(r["Version"]) for r in self.backend.rows(LABELS_SQL, {"name": name})}

    def get(self, name: str, version: int | None = None, label: str = LATEST) -> Prompt:
        """A version by number, else by label ('latest': the highest); PromptNotFoundError when absent."""
        versions = self.versions(name)
        if not versions:
            raise PromptNotFoundError(f"no prompt {name!r} (see `glassbox prompt list`)")
        if version is None and label != LATEST:
            labels = self.labels(name)
            if label not in labels:
                raise PromptNotFoundError(
                    f"prompt {name!r} has no label {label!r} (labels: {sorted(labels) or 'none'})"
                )
            version = labels[label]
        if version is None:
            return versions[-1]
        for prompt in versions:
            if prompt.version == version:
                return prompt
        raise PromptNotFoundError(f"prompt {name!r} has no version {version} (latest is {versions[-1].version})")

    def add(
        self,
        name: str,
        messages: list[dict[str, Any]],
        *,
        model: str = "",
        parameters: dict[str, Any] | None = None,
        description: str = "",
        labels: tuple[str, ...] = (),
    ) -> tuple[Prompt, bool]:
        """Register a template as the next version: (it, True), or (the latest, False) when identical to the latest."""
        check_name("prompt", name)
        versions = self.versions(name)
        candidate = Prompt(name=name, version=(versions[-1].version + 1) if versions else 1, messages=messages,
                           model=model, parameters=parameters or {}, description=description,
                           created_at_ms=now_ms())  # fmt: skip
        latest = versions[-1] if versions else None
        same = latest is not None and (latest.messages, latest.model, latest.parameters) == (
            candidate.messages, candidate.model, candidate.parameters)  # fmt: skip
        prompt = latest if same and latest is not None else candidate
        if not same:
            self.backend.write("prompts", [prompt_row(prompt)])
        for label in labels:
            self.set_label(name, label, prompt.version)
        return prompt, not same

    def set_label(self, name: str, label: str, version: int) -> None:
        """Point ``label`` at ``version`` (which must exist)."""
        check_name("label", label)
        if label == LATEST:
            raise ValueError("'latest' always means the highest version; it cannot be set")
        self.get(name, version)
        self.backend.write("prompt_labels", [{"Name": name, "Label": label, "Version": version,
                                              "UpdatedAt": now_ms()}])  # fmt: skip


# ---------------------------------------------------------------------- the application API

_lock = threading.Lock()
_backend: Backend | None = None
_cache: dict[tuple[str, int | None, str], tuple[float, Prompt]] = {}


def get_prompt(
    name: str,
    version: int | None = None,
    label: str = LATEST,
    *,
    data_dir: Path | str | None = None,
    ttl_s: float = 60.0,
) -> Prompt:
    """A registered prompt version (see the module docstring); PromptNotFoundError when absent."""
    global _backend
    key = (name, version, label if version is None else "")
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit is not None and (version is not None or now - hit[0] < ttl_s):
            return hit[1]
        if _backend is None:
            _backend = open_backend(data_dir)
        prompt = PromptRegistry(_backend).get(name, version, label)
        _cache[key] = (now, prompt)
        return prompt


def use_backend(backend: Backend | None) -> None:
    """Read prompts for :func:`get_prompt` from ``backend`` (a caller that opened storage itself); clears the cache."""
    global _backend
    with _lock:
        _cache.clear()
        _backend = backend


def clear_cache() -> None:
    """Forget cached prompts and the storage connection (tests; a process that changed GLASSBOX_CLICKHOUSE_*)."""
    global _backend
    with _lock:
        _cache.clear()
        if _backend is not None:
            _backend.close()
        _backend = None


__all__ = ["Prompt", "PromptNotFoundError", "PromptRegistry", "clear_cache", "get_prompt", "parse_prompt_ref",
           "use_backend", "variables_of"]  # fmt: skip
