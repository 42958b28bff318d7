"""PARLOR_REDIS_PREFIX, and PARLOR_LIMITS_KEY_PREFIX (its old name) still read; the settings file groups
its fields in labelled sections."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parlor.config import Settings, SettingsError, load_settings
from parlor.wiring.parts import redis_keys


def test_the_prefix_defaults_to_parlors_and_reaches_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLOR_REDIS_PREFIX", raising=False)
    monkeypatch.delenv("PARLOR_LIMITS_KEY_PREFIX", raising=False)
    assert load_settings().redis_prefix == "parlor:"
    assert redis_keys(load_settings(redis_prefix="t1:")).budget("u", "d") == "t1:{user:u}:budget:d"


def test_the_old_name_still_works_and_the_new_one_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLOR_LIMITS_KEY_PREFIX", "old:")
    assert load_settings().redis_prefix == "old:"
    monkeypatch.setenv("PARLOR_REDIS_PREFIX", "new:")
    assert load_settings().redis_prefix == "new:"


def test_only_parlors_variables_count_and_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PREFIX", "not-ours:")
    monkeypatch.setenv("PARLOR_REDIS_PREFIX", "x" * 65)
    with pytest.raises(SettingsError, match=r"^invalid setting PARLOR_REDIS_PREFIX: "):
        load_settings()
    monkeypatch.delenv("PARLOR_REDIS_PREFIX")
    assert load_settings().redis_prefix != "not-ours:"


def test_every_setting_sits_under_a_section_header() -> None:
    source = (Path(__file__).parents[1] / "parlor" / "config.py").read_text()
    body = source[source.index("class Settings("):source.index("    @classmethod")]
    sections = re.split(r"\n    # ---- ", body)[1:]
    fields = [name for section in sections for name in re.findall(r"^    (\w+): ", section, re.M)]
    assert len(sections) >= 10
    assert sorted(fields) == sorted(Settings.model_fields)  # each field once, none before the first header
