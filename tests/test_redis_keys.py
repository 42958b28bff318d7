"""The Redis key builder: every key carries the prefix and one entity's hash tag, so that the keys one
Lua script touches together share a Redis Cluster slot."""

from __future__ import annotations

import re

from parlor.redis_keys import RedisKeys, address_subject, jobs_group, user_subject

KEYS = RedisKeys("p:")


def tag(key: str) -> str:
    """What Redis Cluster hashes: the text between the first `{` and the next `}`."""
    found = re.search(r"\{([^}]+)\}", key)
    assert found is not None, f"{key} has no hash tag"
    return found.group(1)


def every_key(keys: RedisKeys) -> list[str]:
    return [keys.rate_window(user_subject("u1"), 60), keys.budget("u1", "2026-01-01"), keys.breaker("local"),
            keys.breaker_failures("local"), keys.run_stream("u1", "t1", "r1"), keys.run_active("u1", "t1"),
            keys.run_last("u1", "t1"), keys.stops(), keys.key_changes(), keys.progress("d1")]


def test_every_key_starts_with_the_prefix_then_its_tag() -> None:
    for key in every_key(KEYS):
        assert re.fullmatch(r"p:\{[^{}]+\}:[^{}]+", key), key
    assert KEYS.budget("u1", "2026-01-01") == "p:{user:u1}:budget:2026-01-01"
    assert KEYS.rate_window(address_subject("10.0.0.1"), 3600) == "p:{auth:10.0.0.1}:rl:3600"


def test_the_default_prefix_is_parlors() -> None:
    assert all(key.startswith("parlor:{") for key in every_key(RedisKeys()))


def test_a_users_windows_and_budget_share_a_slot() -> None:
    windows = [KEYS.rate_window(user_subject("u1"), s) for s in (60, 3600)]  # one script checks them all
    assert {tag(k) for k in [*windows, KEYS.budget("u1", "2026-01-01")]} == {"user:u1"}
    assert tag(KEYS.budget("u2", "2026-01-01")) != tag(KEYS.budget("u1", "2026-01-01"))


def test_a_breakers_state_and_failures_share_a_slot() -> None:
    assert tag(KEYS.breaker("a")) == tag(KEYS.breaker_failures("a")) == "breaker:a"  # one script reads both
    assert KEYS.breaker("a") != KEYS.breaker_failures("a")
    assert tag(KEYS.breaker("b")) != tag(KEYS.breaker("a"))


def test_a_threads_run_keys_share_a_slot() -> None:
    assert tag(KEYS.run_stream("u1", "t1", "r1")) == tag(KEYS.run_active("u1", "t1")) == "thread:u1:t1"
    assert tag(KEYS.run_last("u1", "t1")) == "thread:u1:t1"
    assert KEYS.run_stream("u1", "t1", "r1") != KEYS.run_stream("u1", "t1", "r2")  # one copy per run
    assert KEYS.run_stream("u1", "t1", "r1") != KEYS.run_active("u1", "t1")
    assert tag(KEYS.run_stream("u1", "t2", "r1")) != tag(KEYS.run_stream("u1", "t1", "r1"))


def test_the_job_streams_group_is_named_after_the_stream() -> None:
    assert jobs_group("parlor:jobs") == "parlor:jobs:workers"
