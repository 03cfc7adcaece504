"""Input/output contracts: JSON Schema, checked with the ``jsonschema`` library.

Validators are compiled once per distinct schema; a board checks thousands of outputs
against a handful of contracts.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


def schema_errors(schema: Any) -> list[str]:
    """Why ``schema`` is not a valid JSON Schema (empty when it is)."""
    if not isinstance(schema, dict):
        return [f"a contract must be a JSON Schema object, got {type(schema).__name__}"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "<root>"
        return [f"at {where}: {exc.message}"]
    return []


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def violations(instance: Any, schema: dict[str, Any] | None) -> list[str]:
    """Every way ``instance`` breaks ``schema``, each naming its JSON path; empty if none."""
    if schema is None:
        return []
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
