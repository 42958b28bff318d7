"""Property tests (hypothesis) on the edge's parsers and validators: any input gives a value or a clear
422-style error, never another exception."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from parlor.api.admin_runs import _since
from parlor.api.errors import ApiError
from parlor.api.schemas import ChatCompletionBody
from parlor.config import SettingsError, load_settings


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
        assert too_long or too_many
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
