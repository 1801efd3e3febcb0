"""Generated contract files: JSON Schemas of every message and the topic registry as YAML.

``glassbox schemas export`` writes them into schemas/; ``glassbox schemas check``
(and the test suite) fails when the checked-in files differ from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from glassbox.models.topics import REGISTRY, SCHEMA_ADAPTERS

SCHEMA_BASE_ID = "https://glassbox.dev/schemas/"


def json_schemas() -> dict[str, dict[str, Any]]:
    """schemas/events/<name>.schema.json contents, keyed by file name."""
    out: dict[str, dict[str, Any]] = {}
    for name, adapter in SCHEMA_ADAPTERS.items():
        schema = adapter.json_schema(by_alias=True, mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{SCHEMA_BASE_ID}{name}.schema.json",
            "title": schema.pop("title", name),
            **schema,
        }
        out[f"{name}.schema.json"] = schema
    return out


def topic_documents() -> dict[str, dict[str, Any]]:
    """schemas/topics/<topic>.yaml contents, keyed by file name."""
    out: dict[str, dict[str, Any]] = {}
    for spec in REGISTRY:
        out[f"{spec.name}.yaml"] = {
            "name": spec.name,
            "description": spec.description,
            "key": spec.key,
            "partitions": spec.partitions,
            "partitions_follow_spans_topic": spec.keyed_by_trace,
            "retention_ms": spec.retention_ms,
            "cleanup_policy": spec.cleanup_policy,
            "schema": f"../events/{spec.schema_name}.schema.json",
            "schema_version": spec.schema_version,
            "examples": f"../examples/{spec.name}/",
        }
    return out


def rendered_files() -> dict[str, str]:
    """Every generated file as text, keyed by its path relative to schemas/."""
    files: dict[str, str] = {}
    for name, schema in json_schemas().items():
        files[f"events/{name}"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    for name, doc in topic_documents().items():
        header = "# Generated from glassbox.models.topics by `glassbox schemas export`; do not edit.\n"
        files[f"topics/{name}"] = header + yaml.safe_dump(doc, sort_keys=False)
    return files


def export(schemas_dir: Path) -> list[Path]:
    written: list[Path] = []
    for rel, text in rendered_files().items():
        path = schemas_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


def drift(schemas_dir: Path) -> list[str]:
    """Paths (relative to schemas/) whose checked-in content differs from the models."""
    stale: list[str] = []
    for rel, text in rendered_files().items():
        path = schemas_dir / rel
        if not path.exists() or path.read_text() != text:
            stale.append(rel)
    return stale
