"""Property tests (hypothesis) on the edge's parsers and validators: any input gives a value or a clear
422-style error, never another exception."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from parlor.api.admin_runs import _since
from parlor.api.errors import ApiError
from parlor.api.inputs import MAX_DEPTH, problem
from parlor.api.schemas import ChatBody, ChatCompletionBody
from parlor.config import SettingsError, load_settings


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"\d{1,12}[smhd]", fullmatch=True),
                 st.datetimes().map(datetime.isoformat)))
def test_since_is_a_time_or_a_422(value: str) -> None:
    try:
        parsed = _since(value)
    except ApiError as exc:
        assert exc.status == 422 and "since" in exc.message
    except OverflowError:  # a span like 99999999999d: past datetime's range
        pytest.fail(f"since={value!r} overflowed instead of a 422")
    else:
        assert parsed is not None and parsed.tzinfo is not None


@settings(max_examples=200)
@given(st.one_of(st.none(), st.text(max_size=300), st.lists(st.text(max_size=300), max_size=8)))
def test_stop_words_are_bounded(stop: object) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": stop}
    try:
        parsed = ChatCompletionBody.model_validate(body)
    except ValidationError:
        too_long = isinstance(stop, str) and len(stop) > 200
        too_many = isinstance(stop, list) and (len(stop) > 4 or any(len(s) > 200 for s in stop))
        words = [stop] if isinstance(stop, str) else stop or []
        assert too_long or too_many or not all(_storable(w) for w in words)  # the input rule
    else:
        assert parsed.stop == stop


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["https://a.example", "http://localhost:5173", "*", "ftp://x", "https://a/b",
                                 " ", "https://b.example:8443"]), max_size=4))
def test_cors_origins_are_origins_or_a_named_setting_error(origins: list[str]) -> None:
    raw = ",".join(origins)
    try:
        found = load_settings(cors_origins=raw).cors_origins
    except SettingsError as exc:
        assert "PARLOR_CORS_ORIGINS" in str(exc)
        assert {"ftp://x", "https://a/b"} & set(origins)  # the only ones that are not origins
    else:
        assert found == [o.strip() for o in origins if o.strip()]


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))  # surrogates and NUL included
def test_chat_text_is_accepted_exactly_when_a_database_can_store_it(text: str) -> None:
    body = {"id": "t", "messages": [{"id": "m", "role": "user", "parts": [{"type": "text", "text": text}]}]}
    try:
        ChatBody.model_validate(body)
    except ValidationError as exc:
        assert not _storable(text)
        assert exc.errors()[0]["loc"] == ("messages", 0, "parts", 0, "text")
    else:
        assert _storable(text)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=60)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@settings(max_examples=300)
@given(JSON, st.integers(min_value=0, max_value=40))
def test_the_rule_bounds_nesting_and_numbers(value: object, wrap: int) -> None:
    for _ in range(wrap):
        value = [value]
    found = problem(value)
    if _depth(value) > MAX_DEPTH:
        assert found is not None
    elif found is not None:
        assert "integers" in found or "finite" in found or "NUL" in found or "surrogate" in found
    else:
        orjson.dumps(value)  # what the rule lets in, orjson (upstream calls, records) can write
