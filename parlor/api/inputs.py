"""The one rule for every value a client sends (body, path, query): text a database can hold, integers
in JSON's exact range, finite numbers, and bounded nesting. A value that breaks it is a 422 naming the
field, before any work: never accepted and then lost.

Why each part: PostgreSQL cannot store NUL (U+0000) in text; a lone surrogate (U+D800 to U+DFFF) is not
Unicode text and no driver can encode it as UTF-8 (Python's JSON parser lets both in, from `\\u0000` and
`\\ud800` escapes; a pair of surrogate escapes arrives already joined into one character). orjson, which
serialises the upstream calls and the records, stops at 64-bit integers and 255 levels of nesting.
"""

from __future__ import annotations

import math
import re
from typing import Any, Self

from fastapi import Request
from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from pydantic_core import PydanticCustomError

from parlor.api.errors import ApiError

MAX_DEPTH = 32  # levels of lists and objects inside one field (a tool's JSON Schema needs far fewer)
MAX_INT = 2**53 - 1  # the integers every JSON reader holds exactly
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def problem(value: object) -> str | None:
    """What in `value` (a string, a number, or JSON-like lists and dicts) breaks the rule, or None.
    Walked with a stack, not recursion: the depth is what it checks."""
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if (found := _NOT_TEXT.search(item)) is not None:
                return _bad_character(found.group())
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int) and abs(item) > MAX_INT:
            return f"integers must lie between -{MAX_INT} and {MAX_INT}"
        elif isinstance(item, float) and not math.isfinite(item):
            return "numbers must be finite"
        elif isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


def _bad_character(character: str) -> str:
    if character == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored"
    return f"contains a lone surrogate (U+{ord(character):04X}), which is not Unicode text"


def _refuse(value: Any) -> Any:
    if (why := problem(value)) is not None:
        raise PydanticCustomError("input_rule", why)
    return value


class RequestBody(BaseModel):
    """The base of every request body: each field (after its own type and bounds), and any extra field,
    follows the rule. Nested bodies check their own fields, so the error names the innermost one."""

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("*")
    @classmethod
    def _follows_the_rule(cls, value: Any) -> Any:
        return _refuse(value)

    @model_validator(mode="after")
    def _extras_follow_the_rule(self) -> Self:
        for name, value in (self.model_extra or {}).items():
            if (why := problem(name)) is not None:
                raise PydanticCustomError("input_rule", f"a field's name {why}")
            if (why := problem(value)) is not None:
                raise PydanticCustomError("input_rule", "{name}: {why}", {"name": name, "why": why})
        return self


def checked_body(value: Any) -> Any:
    """For a body that is not a RequestBody (a free-form dict validated later): the same rule."""
    return _refuse(value)


def url_follows_the_rule(request: Request) -> None:
    """A dependency of every route: its path and query parameters follow the rule too (a NUL in a path id
    reached PostgreSQL as a 500)."""
    named = [("path", k, v) for k, v in request.path_params.items()]
    named += [("query", k, v) for k, v in request.query_params.multi_items()]
    for part, key, value in named:
        if (why := problem(key)) is not None:
            raise ApiError(422, "invalid_request", f"{part}: a parameter's name {why}")
        if (why := problem(value)) is not None:
            raise ApiError(422, "invalid_request", f"{part}.{key}: {why}")
