"""Base of every evaluator's ``params`` model (strict: an unknown parameter is a config error)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Parameters of an evaluator type, validated from the ``params`` mapping in the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def checked_regexes(patterns: list[str]) -> list[str]:
    """``patterns`` unchanged when each compiles; ValueError naming the first that does not."""
    import re

    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
    return patterns


@lru_cache(maxsize=512)
def _validator_for(schema_json: bytes) -> Any:
    import json

    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    return cls(schema)


def schema_validator(schema: Any) -> Any:
    """A cached jsonschema validator for ``schema`` (raises jsonschema.SchemaError when the schema is invalid).

    Keyed by the schema's compact JSON (pydantic-core's encoder: fast enough to run per tool call)."""
    return _validator_for(pydantic_core.to_json(schema, fallback=str))
