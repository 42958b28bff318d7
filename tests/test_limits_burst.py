"""Limits stay exact under a burst: two real replicas on one Redis of this test's own, 100 concurrent
requests split over both against a 10/min tier, round after round (each a new user), with the limiter's
default Redis timeout. A slow Redis answer while the replicas are busy is not an outage: no replica may
switch to counting in-process, so every round admits exactly 10 — also the rounds in which Redis stalls
(`CLIENT PAUSE`, as a fork or a slow command would) for longer than that timeout as the burst arrives."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import redis

from parlor.db import migrate
from tests.client import auth
from tests.conftest import upstream_provider
from tests.helpers.redis import OwnRedis
from tests.server import ParlorServer
from tests.test_limits_server import fire_burst
from tests.upstream import Upstream

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")

ROUNDS = 10
STALL_MS = 800  # every other round: well over the default 0.25 s timeout, well under a real outage
BURST = 100
LIMIT = 10


def test_100_concurrent_requests_over_two_replicas_admit_exactly_the_limit_every_round(
        upstream: Upstream, tmp_path: Path, pg_url: str) -> None:
    asyncio.run(migrate(pg_url))
    own = OwnRedis().start()
    env = {"PARLOR_REDIS_URL": own.url, "PARLOR_TIERS": json.dumps({"ten": {"requests_per_minute": LIMIT}}),
           "PARLOR_DEFAULT_TIER": "ten", "PARLOR_LOG_LEVEL": "warning"}  # PARLOR_LIMITS_REDIS_TIMEOUT: default
    servers: list[ParlorServer] = []
    rounds: list[dict[int, int]] = []
    try:
        for name in ("a", "b"):
            servers.append(ParlorServer(tmp_path / name, [upstream_provider(upstream)], database_url=pg_url,
                                        **env).start())
        for i in range(ROUNDS):
            marker = f"r{i}-{uuid.uuid4().hex[:8]}"
            key = servers[i % 2].create_user(f"burst-{marker}")
            for server in servers:  # its key known to both: the burst reaches the limiter at once
                assert httpx.get(f"{server.url}/api/me", headers=auth(key), timeout=10).status_code == 200
            stall = (lambda: _stall(own.url)) if i % 2 else (lambda: None)
            results = asyncio.run(fire_burst(servers, key, marker, BURST, at_start=stall))
            rounds.append(dict(Counter(status for status, _, _ in results)))
            assert all(code == "rate_limited" for status, _, code in results if status == 429)
    finally:
        for server in servers:
            server.stop()
        own.stop()
    print(f"\n{ROUNDS} rounds of {BURST} concurrent requests over two replicas, {LIMIT}/min: {rounds}")
    assert rounds == [{200: LIMIT, 429: BURST - LIMIT}] * ROUNDS
    for server in servers:  # nothing fell back to counting in-process
        assert "unreachable for limits" not in server.log.read_text()


def _stall(url: str) -> None:
    with redis.Redis.from_url(url) as admin:
        admin.execute_command("CLIENT", "PAUSE", STALL_MS, "ALL")
