"""Validation of tool arguments against a JSON schema (for tools declared as data, not as code)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from parlor.agent.tools import ToolError, Validator


def schema_validator(schema: dict[str, Any]) -> Validator:
    validator = Draft202012Validator(schema)

    def validate(raw: dict[str, Any]) -> dict[str, Any]:
        errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.path))
        if errors:
            problems = "; ".join(f"{'.'.join(map(str, e.path)) or 'arguments'}: {e.message}" for e in errors[:5])
            raise ToolError(f"invalid arguments: {problems}")
        return raw

    return validate
