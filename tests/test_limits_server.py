"""Request limits through real `parlor serve` processes and real Redis: one limit across two
processes, the headers, tier changes, invalid keys, and Redis going away (fail open / closed)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import pg
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.helpers.redis import OwnRedis, redis_up, redis_url
from tests.server import ParlorServer
from tests.upstream import Upstream

REDIS_URL = redis_url()
TIERS = {
    "tiny": {"requests_per_minute": 3, "requests_per_hour": 100},
    "pair": {"requests_per_minute": 2},
    "burst": {"requests_per_minute": 50, "requests_per_hour": 500},
    "budget": {"tokens_per_day": 400, "max_reply_tokens": 50},
    "metered": {},
    "unlimited": {},
}
PRICES = {"up/test-model": {"input": 3.0, "output": 15.0}}


def limits_env(prefix: str | None = None, redis_url: str | None = REDIS_URL, **extra: str) -> dict[str, str]:
    env = {"PARLOR_TIERS": json.dumps(TIERS), "PARLOR_DEFAULT_TIER": "metered", "PARLOR_PRICES": json.dumps(PRICES),
           "PARLOR_LIMITS_KEY_PREFIX": prefix or f"t{uuid.uuid4().hex[:12]}:", "PARLOR_LOG_LEVEL": "warning", **extra}
    if redis_url:
        env["PARLOR_REDIS_URL"] = redis_url
    return env


def complete(url: str, key: str, text: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", headers=auth(key), timeout=30,
                      json={"model": "up", "messages": [{"role": "user", "content": text}], **body})


@pytest.fixture(scope="module")
def limited(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    """One server on SQLite with the shared Redis (its own key prefix) and the test tiers."""
    if shutil.which("redis-server") is None and not redis_up(REDIS_URL):
        pytest.skip("no Redis")
    process = ParlorServer(tmp_path_factory.mktemp("limited"), [upstream_provider(upstream)],
                           **limits_env(PARLOR_AUTH_FAILURES_PER_MINUTE="5"))
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_headers_and_429_on_both_routes(limited: ParlorServer, upstream: Upstream, marker: str) -> None:
    key = limited.create_user(f"tiny-{marker}", tier="tiny")
    first = chat(limited.url, key, f"t-{marker}", f"one {marker}")
    assert first.status == 200 and first.done
    assert first.headers["ratelimit-policy"] == '"minute";q=3;w=60, "hour";q=100;w=3600'
    assert first.headers["ratelimit"] == '"minute";r=2;t=60, "hour";r=99;t=3600'
    second = complete(limited.url, key, f"two {marker}")
    assert second.status_code == 200 and second.headers["ratelimit"].startswith('"minute";r=1;')
    third = complete(limited.url, key, f"three {marker}", stream=True)
    assert third.status_code == 200 and third.headers["ratelimit"].startswith('"minute";r=0;')

    refused = chat(limited.url, key, f"t-{marker}", f"four {marker}")
    assert refused.status == 429
    assert refused.body["error"]["code"] == "rate_limited"
    assert refused.body["error"]["request_id"] == refused.headers["x-request-id"]
    assert 55 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit"].startswith('"minute";r=0;')
    openai_refused = complete(limited.url, key, f"five {marker}")
    assert openai_refused.status_code == 429
    error = openai_refused.json()["error"]
    assert (error["code"], error["type"]) == ("rate_limited", "rate_limit_error")
    assert "retry-after" in openai_refused.headers
    # neither refused request got anywhere near the model
    assert not any(f"four {marker}" in str(r) or f"five {marker}" in str(r) for r in upstream.requests)


def test_a_tier_change_holds_from_the_next_request(limited: ParlorServer, marker: str) -> None:
    name = f"mover-{marker}"
    key = limited.create_user(name, tier="tiny")
    user_id = httpx.get(f"{limited.url}/api/me", headers=auth(key)).json()["id"]
    statuses = [complete(limited.url, key, f"{i} {marker}").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]

    url = f"{limited.url}/api/users/{user_id}"
    assert httpx.patch(url, json={"tier": "unlimited"}, headers=auth(key)).status_code == 403
    unknown = httpx.patch(url, json={"tier": "gold"}, headers=auth(limited.admin_token))
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "unknown_tier"
    missing = httpx.patch(f"{limited.url}/api/users/nobody", json={"tier": "unlimited"},
                          headers=auth(limited.admin_token))
    assert missing.status_code == 404

    changed = httpx.patch(url, json={"tier": "unlimited"}, headers=auth(limited.admin_token))
    assert changed.status_code == 200 and changed.json()["tier"] == "unlimited"
    after = complete(limited.url, key, f"after {marker}")
    assert after.status_code == 200 and "ratelimit" not in after.headers
    assert httpx.get(f"{limited.url}/api/me", headers=auth(key)).json()["tier"] == "unlimited"


def test_repeated_invalid_keys_from_one_address_are_limited(limited: ParlorServer) -> None:
    statuses = [httpx.get(f"{limited.url}/api/me", headers=auth(f"pk-wrong-{i}")).status_code for i in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    blocked = httpx.post(f"{limited.url}/v1/chat/completions", headers=auth("not-even-a-key"), json={})
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "rate_limited"
    assert "retry-after" in blocked.headers
    # the address is not locked out for a valid key, and no key at all is a plain 401
    good = limited.create_user(f"good-{uuid.uuid4().hex[:6]}")
    assert httpx.get(f"{limited.url}/api/me", headers=auth(good)).status_code == 200
    assert httpx.get(f"{limited.url}/api/me").status_code == 401


def test_200_concurrent_requests_across_two_processes_admit_exactly_the_limit(
        upstream: Upstream, tmp_path: Path, pg_url: str, marker: str) -> None:
    # A limit check that Redis answers later than PARLOR_LIMITS_REDIS_TIMEOUT degrades to the process's own
    # count (by design, tested on its own); a 200-request burst on a loaded 2-core machine can wait that long
    # for its event loop, so this test of the shared count gives Redis time enough.
    env = {**limits_env(PARLOR_DEFAULT_TIER="burst", PARLOR_LIMITS_REDIS_TIMEOUT="5"), "PARLOR_DATABASE_URL": pg_url}
    migrated = subprocess.run([sys.executable, "-m", "parlor", "migrate"],
                              env={**os.environ, **env, "PARLOR_DATABASE_URL": pg.direct(pg_url)},
                              capture_output=True, text=True, timeout=60)
    assert migrated.returncode == 0, migrated.stderr
    servers: list[ParlorServer] = []
    try:
        for name in ("a", "b"):
            servers.append(ParlorServer(tmp_path / name, [upstream_provider(upstream)], database_url=pg_url,
                                        **env).start())
        key = servers[0].create_user(f"burst-{marker}")
        results = asyncio.run(fire_burst(servers, key, marker, 200))
    finally:
        for server in servers:
            server.stop()
    counts = Counter(status for status, _, _ in results)
    by_server = Counter((url, status) for status, url, _ in results)
    print(f"\n200 concurrent requests, one user, two processes, limit 50/min: {dict(counts)}; "
          f"per process: {dict(by_server)}")
    assert counts == {200: 50, 429: 150}
    assert sum(by_server[(s.url, status)] for s in servers for status in (200, 429)) == 200
    assert all(by_server[(s.url, 200)] + by_server[(s.url, 429)] == 100 for s in servers)  # both took their half
    assert all(code == "rate_limited" for status, _, code in results if status == 429)
    sent = [r for r in upstream.requests if marker in str(r["messages"])]
    assert len(sent) == 50


async def fire_burst(servers: list[ParlorServer], key: str, marker: str, n: int,
                     at_start: Callable[[], None] = lambda: None) -> list[tuple[int, str, str | None]]:
    """`n` concurrent completions by one user, round-robin over `servers`, all let go at once (and
    `at_start` called just then); each as (status, server url, error code)."""
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=auth(key)) as client:
        start = asyncio.Event()

        async def one(i: int) -> tuple[int, str, str | None]:
            url = servers[i % len(servers)].url
            await start.wait()
            response = await client.post(f"{url}/v1/chat/completions", json={
                "model": "up", "messages": [{"role": "user", "content": f"burst {i} {marker}"}]})
            code = response.json()["error"]["code"] if response.status_code != 200 else None
            return response.status_code, url, code

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.sleep(0.05)
        at_start()
        start.set()
        return await asyncio.gather(*tasks)


def _timed(call: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_going_away_fails_open_or_closed_as_configured(upstream: Upstream, tmp_path: Path,
                                                              marker: str) -> None:
    own = OwnRedis().start()
    servers: dict[str, ParlorServer] = {}
    try:
        for mode in ("open", "closed"):
            servers[mode] = ParlorServer(tmp_path / mode, [upstream_provider(upstream)],
                                         **limits_env(redis_url=own.url, PARLOR_DEFAULT_TIER="pair",
                                                      PARLOR_LIMITS_ON_REDIS_ERROR=mode)).start()
        keys = {mode: server.create_user(f"{mode}-{marker}") for mode, server in servers.items()}
        for mode, server in servers.items():  # Redis enforces the limit
            statuses = [complete(server.url, keys[mode], f"{mode} {i} {marker}").status_code for i in range(3)]
            assert statuses == [200, 200, 429], mode

        own.stop()
        opened, took = _timed(lambda: complete(servers["open"].url, keys["open"], f"open down {marker}"))
        assert opened.status_code == 200 and took < 3  # allowed, counted in-process...
        again = [complete(servers["open"].url, keys["open"], f"open down {i} {marker}").status_code for i in range(2)]
        assert again == [200, 429]  # ...where the same limit holds until Redis is back

        closed, took = _timed(lambda: complete(servers["closed"].url, keys["closed"], f"closed down {marker}"))
        assert closed.status_code == 503 and took < 3
        assert closed.json()["error"]["code"] == "limits_unavailable"
        refused = chat(servers["closed"].url, keys["closed"], f"t-{marker}", f"closed chat {marker}")
        assert refused.status == 503 and refused.body["error"]["code"] == "limits_unavailable"

        own.start()  # back (empty): after the breaker's pause, Redis counts again
        time.sleep(1.2)
        back = complete(servers["closed"].url, keys["closed"], f"closed back {marker}")
        assert back.status_code == 200 and back.headers["ratelimit"].startswith('"minute";r=1;')
    finally:
        for server in servers.values():
            server.stop()
        own.stop()


def test_set_tier_from_the_command_line(limited: ParlorServer, marker: str) -> None:
    key = limited.create_user(f"cli-{marker}", tier="tiny")
    env = {**os.environ, **{k: v for k, v in limited.env.items() if k.startswith("PARLOR_")}}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "parlor", "users", *args], env=env, cwd=limited.data_dir,
                              capture_output=True, text=True, timeout=60)

    moved = cli("set-tier", f"cli-{marker}", "unlimited")
    assert moved.returncode == 0, moved.stderr
    assert httpx.get(f"{limited.url}/api/me", headers=auth(key)).json()["tier"] == "unlimited"
    unknown = cli("set-tier", f"cli-{marker}", "gold")
    assert unknown.returncode != 0 and "no tier 'gold'" in unknown.stderr
    assert cli("set-tier", "nobody-at-all", "tiny").returncode != 0
