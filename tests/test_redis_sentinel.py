"""Redis behind Sentinel (`redis+sentinel://`), and Redis going away under a stream.

Two `parlor serve` replicas on a PostgreSQL database of their own and a master, its replica and three
Sentinels. The master is killed (SIGKILL, by its PID) while a turn streams: the stream still ends with
`finish` and its answer is stored; after the failover chat works on both replicas, request limits are
exact again and counted on the new master, and every message stored before is still in PostgreSQL. Run
open and with passwords: the master's (requirepass, in the URL) and the Sentinels' own (?sentinel_password=)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import redis

from parlor.db import migrate
from parlor.rag.pg_store import asyncpg_dsn
from parlor.redis_client import connect
from parlor.redis_keys import RedisKeys, user_subject
from tests.client import ChatResult, auth, chat, chat_body
from tests.conftest import upstream_provider
from tests.helpers.redis_ha import OwnSentinel
from tests.helpers.wait import wait_for_sync
from tests.pg import available
from tests.server import ParlorServer
from tests.test_resilience_runs import answer_with, text_of
from tests.test_two_replicas import wait_for_text
from tests.upstream import Script, Upstream

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None or not asyncio.run(available()),
                                reason="needs redis-server and PostgreSQL")
CAP = 4
SLOW = [f" s{i}" for i in range(30)]  # 30 tokens, 100 ms apart: the master dies while they stream
TIERS = {"unlimited": {}, "capped": {"requests_per_minute": CAP}, "roomy": {"requests_per_minute": 10_000}}


@dataclass
class Pair:
    a: ParlorServer
    b: ParlorServer
    sentinel: OwnSentinel
    database_url: str


AUTH = {"open": {}, "passwords": {"password": "master s3cret/:@", "sentinel_password": "sentinel-s3cret"}}


@pytest.fixture(params=list(AUTH))
def pair(request: pytest.FixtureRequest, upstream: Upstream, tmp_path: Path, pg_url: str) -> Iterator[Pair]:
    asyncio.run(migrate(pg_url))
    sentinel = OwnSentinel(tmp_path, **AUTH[request.param]).start()
    env = {"PARLOR_REDIS_URL": sentinel.url, "PARLOR_TIERS": json.dumps(TIERS)}
    a, b = (ParlorServer(tmp_path / name, [upstream_provider(upstream)], database_url=pg_url, **env)
            for name in ("a", "b"))
    try:
        a.start(120)
        b.start(120)
        yield Pair(a, b, sentinel, pg_url)
    finally:
        a.stop()
        b.stop()
        sentinel.stop()


def stored(database_url: str) -> list[tuple[str, str, str]]:
    """Every message in PostgreSQL as (thread, role, status)."""
    async def read() -> list[tuple[str, str, str]]:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            rows = await connection.fetch("SELECT thread_id, role, status FROM messages ORDER BY created_at")
            return [(r["thread_id"], r["role"], r["status"]) for r in rows]
        finally:
            await connection.close()

    return asyncio.run(read())


def window_count(sentinel: OwnSentinel, user_id: str) -> int:
    """The user's hits in the minute window, on whichever server is master now."""
    host, port = sentinel.master_address()
    with redis.Redis(host=host, port=port, password=sentinel.password, socket_timeout=2) as master:
        return int(master.zcard(RedisKeys().rate_window(user_subject(user_id), 60)))


def rest_of(lines: Iterator[str]) -> ChatResult:
    """What is left of a UI stream already being read."""
    rest = ChatResult(200, httpx.Headers())
    for line in lines:
        if line == "data: [DONE]":
            rest.done = True
            break
        if line.startswith("data: "):
            rest.chunks.append(json.loads(line[6:]))
    return rest


def wait_until_limits_count_on_redis(pair: Pair, marker: str) -> None:
    """Until each replica's limits count on the new master again (a replica that met the dead master
    counts in-process for a moment, PARLOR_LIMITS_ON_REDIS_ERROR=open): a hit of a roomy user shows there."""
    user_id, key = pair.a.new_user(f"probe-{marker}", "roomy")
    for server in (pair.a, pair.b):
        def counted(s: ParlorServer = server) -> bool:
            seen = window_count(pair.sentinel, user_id)
            return chat(s.url, key, uuid.uuid4().hex, f"probe {marker}").status == 200 \
                and window_count(pair.sentinel, user_id) == seen + 1
        wait_for_sync(counted, 60)


def test_a_master_killed_mid_stream_fails_over_and_nothing_is_lost(pair: Pair, upstream: Upstream,
                                                                   marker: str) -> None:
    _, key = pair.a.new_user(f"sentinel-{marker}", "unlimited")
    before = [chat(server.url, key, uuid.uuid4().hex, f"before {marker}") for server in (pair.a, pair.b)]
    assert [r.status for r in before] == [200, 200]

    upstream.push(Script(tokens=SLOW, token_delay=0.1), match=f"failover {marker}")
    thread_id = uuid.uuid4().hex
    with httpx.Client(headers=auth(key), timeout=60) as client, client.stream(
            "POST", f"{pair.a.url}/api/chat", json=chat_body(thread_id, f"failover {marker}")) as streaming:
        lines = streaming.iter_lines()
        wait_for_text(lines)
        pair.sentinel.kill_master()  # mid-answer: the mirror's writes and the lease's renewals fail
        rest = rest_of(lines)
    assert rest.types[-1] == "finish" and rest.done, rest.types[-3:]
    assert text_of(answer_with(pair.a.url, key, thread_id, "complete")) == "".join(SLOW)

    pair.sentinel.wait_failover()
    for server in (pair.a, pair.b):  # chat works on the new master, through both
        wait_for_sync(lambda s=server: httpx.get(f"{s.url}/readyz", timeout=5).status_code == 200, 60)
        after = chat(server.url, key, uuid.uuid4().hex, f"after {marker}")
        assert after.status == 200 and after.types[-1] == "finish"
    wait_until_limits_count_on_redis(pair, marker)

    capped_id, capped = pair.a.new_user(f"capped-{marker}", "capped")
    statuses = [chat((pair.a, pair.b)[i % 2].url, capped, uuid.uuid4().hex, f"cap {i} {marker}").status
                for i in range(CAP + 3)]
    counted = window_count(pair.sentinel, capped_id)
    print(f"after the failover: {statuses.count(200)} admitted of {len(statuses)} (limit {CAP}), "
          f"{counted} counted on the new master")
    assert statuses == [200] * CAP + [429] * 3 and counted == CAP

    rows = stored(pair.database_url)  # nothing lost: every turn's question and answer, complete
    assert [r for r in rows if r[0] == thread_id] == [(thread_id, "user", "complete"),
                                                        (thread_id, "assistant", "complete")]
    assert all(status == "complete" for _, _, status in rows), rows
    assert len(rows) >= 2 * (2 + 1 + 2 + CAP), rows


def test_sentinels_and_master_that_require_passwords_refuse_a_url_without_them(tmp_path: Path) -> None:
    """The passwords the failover test gives are needed: each one missing is refused, named."""
    sentinel = OwnSentinel(tmp_path, **AUTH["passwords"]).start()

    async def ping(url: str) -> str:
        client = connect(url)
        try:
            return str(await client.ping())
        except redis.RedisError as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            await client.aclose()

    try:
        assert asyncio.run(ping(sentinel.url)) == "True"
        no_sentinel_password = asyncio.run(ping(sentinel.url.split("?")[0]))
        assert no_sentinel_password.startswith("MasterNotFoundError") and "AuthenticationError" in no_sentinel_password
        no_master_password = asyncio.run(ping(re.sub(r"//[^@/]*@", "//", sentinel.url)))
        assert no_master_password.startswith("AuthenticationError"), no_master_password
    finally:
        sentinel.stop()
