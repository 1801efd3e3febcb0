"""The checked-in contract (JSON Schemas, topic registry, golden examples) agrees with the models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from glassbox.common.paths import contract_dir
from glassbox.models import contract
from glassbox.models.messages import decode_span_message
from glassbox.models.span import PAYLOAD_TYPES, SpanKind
from glassbox.models.topics import REGISTRY, SCHEMA_ADAPTERS, SPANS
from glassbox.sdk import fields as sdk_fields
from glassbox.sdk.kafka_sender import SPANS_TOPIC

SCHEMAS = contract_dir()


def _examples() -> list[tuple[str, Path]]:
    out = []
    for spec in REGISTRY:
        for path in sorted((SCHEMAS / "examples" / spec.name).glob("*.json")):
            out.append((spec.schema_name, path))
    return out


def test_checked_in_files_match_the_models() -> None:
    """`glassbox schemas export` output equals what is checked in; regenerate when models change."""
    assert contract.drift(SCHEMAS) == []


def test_every_topic_has_a_golden_example() -> None:
    """Each topic in the registry documents at least one example message."""
    for spec in REGISTRY:
        assert list((SCHEMAS / "examples" / spec.name).glob("*.json")), spec.name


@pytest.mark.parametrize(("schema_name", "path"), _examples(), ids=lambda v: getattr(v, "name", v))
def test_golden_example_validates_against_model_and_json_schema(schema_name: str, path: Path) -> None:
    """Golden examples pass both the pydantic model and the generated JSON Schema."""
    doc = json.loads(path.read_text())
    SCHEMA_ADAPTERS[schema_name].validate_python(doc)
    schema = json.loads((SCHEMAS / "events" / f"{schema_name}.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)


def test_span_examples_decode_without_rejections() -> None:
    """The spans-topic examples decode cleanly when keyed by their trace id."""
    for path in (SCHEMAS / "examples" / SPANS.name).glob("*.json"):
        raw = path.read_bytes()
        doc = json.loads(raw)
        first = doc[0] if isinstance(doc, list) else doc
        decoded = decode_span_message(raw, first["trace_id"].encode())
        assert decoded.rejected == []
        assert len(decoded.spans) == (len(doc) if isinstance(doc, list) else 1)


def test_topic_yaml_lists_key_partitions_retention_and_version() -> None:
    """Each topic document names its key, partitions, retention and schema version."""
    for spec in REGISTRY:
        doc = yaml.safe_load((SCHEMAS / "topics" / f"{spec.name}.yaml").read_text())
        assert doc["key"] == spec.key
        assert doc["partitions"] == spec.partitions
        assert doc["retention_ms"] == spec.retention_ms
        assert doc["schema_version"] == spec.schema_version
        assert (SCHEMAS / "topics" / doc["schema"]).resolve().exists()


def test_json_schema_rejects_what_the_model_rejects() -> None:
    """An upper-case trace id and a negative token count fail the JSON Schema too."""
    schema = json.loads((SCHEMAS / "events" / "span-event.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    base = json.loads((SCHEMAS / "examples" / SPANS.name / "rag-trace-batch.json").read_text())[2]
    bad_usage = json.loads(json.dumps(base))
    bad_usage["payload"]["gen_ai.usage.input_tokens"] = -1
    assert not validator.is_valid(bad_usage)
    assert validator.is_valid(base)


def test_sdk_field_table_mirrors_the_models() -> None:
    """The SDK's static payload table (kept to import fast) has the models' fields and wire names."""
    for kind, model in PAYLOAD_TYPES.items():
        table = sdk_fields.PAYLOAD_FIELDS[kind.value]
        if model is None:
            assert table == {}
            continue
        expected = {name: field.alias for name, field in model.model_fields.items()}
        assert {name: wire for name, (wire, _tag) in table.items()} == expected, kind
    assert set(sdk_fields.PAYLOAD_FIELDS) == {k.value for k in SpanKind}
    assert SPANS.name == SPANS_TOPIC
