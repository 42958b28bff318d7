"""Redis stopped under a stream degrades it, never cuts it: two replicas share a PostgreSQL database and a
Redis of this test's own; a turn streams on A while a client follows it on B, and Redis stops. A's client
still gets every token, `finish` and [DONE], and the answer is stored; B's follower ends with a terminal
chunk of its own and [DONE]; a turn started while Redis is down is answered too."""

from __future__ import annotations

import asyncio
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from parlor.db import migrate
from parlor.jobs.queue import QueueUnavailable
from tests.client import ChatResult, auth, chat, chat_body
from tests.conftest import upstream_provider
from tests.helpers.redis import OwnRedis
from tests.pg import available
from tests.rag_kit import knowledge
from tests.server import ParlorServer
from tests.test_redis_sentinel import rest_of
from tests.test_resilience_runs import answer_with, read_stream, text_of
from tests.test_two_replicas import wait_for_text
from tests.upstream import Script, Upstream

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None or not asyncio.run(available()),
                                reason="needs redis-server and PostgreSQL")
SLOW = [f" w{i}" for i in range(30)]


@pytest.fixture
def pair(upstream: Upstream, tmp_path: Path, pg_url: str) -> Iterator[tuple[ParlorServer, ParlorServer, OwnRedis]]:
    asyncio.run(migrate(pg_url))
    own = OwnRedis(tmp_path).start()
    a, b = (ParlorServer(tmp_path / name, [upstream_provider(upstream)], database_url=pg_url,
                         PARLOR_REDIS_URL=own.url) for name in ("a", "b"))
    try:
        a.start(120)
        b.start(120)
        yield a, b, own
    finally:
        a.stop()
        b.stop()
        own.stop()


def test_redis_stopped_mid_stream_ends_both_streams_and_stores_the_answer(
        pair: tuple[ParlorServer, ParlorServer, OwnRedis], upstream: Upstream, marker: str) -> None:
    a, b, own = pair
    key = a.create_user(f"outage-{marker}")
    upstream.push(Script(tokens=SLOW, token_delay=0.1), match=f"outage {marker}")
    thread_id = uuid.uuid4().hex
    followed: list[ChatResult] = []
    following = threading.Event()

    def follow() -> None:
        with httpx.Client(headers=auth(key), timeout=60) as client, client.stream(
                "GET", f"{b.url}/api/chat/{thread_id}/stream") as on_b:
            following.set()
            followed.append(read_stream(on_b))

    with httpx.Client(headers=auth(key), timeout=60) as client, client.stream(
            "POST", f"{a.url}/api/chat", json=chat_body(thread_id, f"outage {marker}")) as on_a:
        lines = on_a.iter_lines()
        wait_for_text(lines)
        follower = threading.Thread(target=follow)
        follower.start()
        following.wait(30)
        own.stop()  # under both streams
        rest = rest_of(lines)
        follower.join(60)
    assert rest.types[-1] == "finish" and rest.done, rest.types[-3:]
    assert text_of(answer_with(a.url, key, thread_id, "complete")) == "".join(SLOW)
    assert followed and followed[0].done, "the follower's stream was cut"
    print(f"follower on B ended with {followed[0].types[-1]} after {len(followed[0].text)} characters")
    assert followed[0].types[-1] in ("finish", "error"), followed[0].types[-3:]

    while_down = chat(a.url, key, uuid.uuid4().hex, f"while down {marker}")
    assert while_down.status == 200 and while_down.types[-1] == "finish"



async def test_an_upload_while_redis_is_down_is_a_clear_503_and_the_same_upload_later_queues_it(
        tmp_path: Path) -> None:
    """The queue is the part that is down: the file is kept, the document marked failed saying why, the
    client told 503 `jobs_unavailable`; once Redis is back the same upload queues it again."""
    own = OwnRedis(tmp_path).start()
    async with knowledge(tmp_path, redis_url=own.url) as (built, users):
        data = b"# Notes\n\nThe code is 7781.\n"
        own.stop()
        with pytest.raises(QueueUnavailable):
            await built.documents.upload(users[0], "notes.md", data)
        [document] = await built.documents.list(users[0])
        assert document.status == "failed" and "upload it again" in (document.error or "")
        own.start()
        again, created = await built.documents.upload(users[0], "notes.md", data)
        assert (again.id, again.status, created) == (document.id, "queued", False)
    own.stop()
