"""Stop, resume, disconnects, duplicate POSTs and graceful shutdown — on one server, and on two replicas
that share PostgreSQL and Redis. Every test checks what was stored, not only what was sent."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests import pg
from tests.client import ChatResult, auth, chat, chat_body
from tests.conftest import RunningServer, upstream_provider
from tests.helpers.redis import redis_url
from tests.helpers.wait import wait_for_sync
from tests.server import ParlorServer
from tests.test_lifecycle import parlor
from tests.upstream import Script, Upstream

SLOW = [f" w{i}" for i in range(40)]


def stored(url: str, key: str, thread_id: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = httpx.get(f"{url}/api/threads/{thread_id}", headers=auth(key)).json()["messages"]
    return messages


def text_of(message: dict[str, Any]) -> str:
    return "".join(p["text"] for p in message["parts"] if p["type"] == "text")


def answer_with(url: str, key: str, thread_id: str, status: str) -> dict[str, Any]:
    """The thread's last message, once it has `status`."""
    def check() -> dict[str, Any] | None:
        response = httpx.get(f"{url}/api/threads/{thread_id}", headers=auth(key))
        if response.status_code != 200 or not response.json()["messages"]:
            return None  # not there yet (or the database is still coming back)
        last: dict[str, Any] = response.json()["messages"][-1]
        return last if last["metadata"]["status"] == status else None

    found: dict[str, Any] = wait_for_sync(check)
    return found


def read_stream(response: httpx.Response) -> ChatResult:
    result = ChatResult(response.status_code, response.headers)
    for line in response.iter_lines():
        if line.startswith("data: "):
            if line == "data: [DONE]":
                result.done = True
                break
            result.chunks.append(orjson.loads(line[6:]))
    return result


def start_then_leave(url: str, key: str, thread_id: str, text: str, deltas: int = 3) -> None:
    """Starts a turn, reads a few deltas, and goes away."""
    with httpx.Client(base_url=url, headers=auth(key), timeout=30) as client, client.stream(
        "POST", "/api/chat", json=chat_body(thread_id, text)
    ) as response:
        seen = 0
        for line in response.iter_lines():
            seen += '"text-delta"' in line
            if seen >= deltas:
                return


def test_a_reload_mid_answer_resumes_from_the_start(server: RunningServer, upstream: Upstream, marker: str) -> None:
    upstream.push(Script(tokens=SLOW, token_delay=0.03), match=marker)
    thread_id = uuid.uuid4().hex
    start_then_leave(server.url, server.api_key, thread_id, f"resume {marker}")

    with httpx.Client(base_url=server.url, headers=auth(server.api_key), timeout=30) as client, client.stream(
        "GET", f"/api/chat/{thread_id}/stream"
    ) as response:
        assert response.status_code == 200
        resumed = read_stream(response)
    assert resumed.done and resumed.types[0] == "start" and resumed.types[-1] == "finish"
    assert resumed.text == "".join(SLOW)  # replayed from the start, then followed live
    answer = stored(server.url, server.api_key, thread_id)[-1]
    assert answer["id"] == resumed.message_id and answer["metadata"]["status"] == "complete"

    idle = httpx.get(f"{server.url}/api/chat/{thread_id}/stream", headers=auth(server.api_key))
    assert idle.status_code == 204
    other = httpx.get(f"{server.url}/api/chat/{thread_id}/stream", headers=auth(server.user()))
    assert other.status_code == 204


def test_stop_cancels_the_upstream_call_and_keeps_the_partial(server: RunningServer, upstream: Upstream,
                                                              marker: str) -> None:
    upstream.push(Script(tokens=SLOW, token_delay=0.05), match=marker)
    disconnects = upstream.disconnects
    thread_id = uuid.uuid4().hex
    with httpx.Client(base_url=server.url, headers=auth(server.api_key), timeout=30) as client, client.stream(
        "POST", "/api/chat", json=chat_body(thread_id, f"stop {marker}")
    ) as response:
        lines = response.iter_lines()
        while '"text-delta"' not in next(lines):
            pass
        started = time.monotonic()
        assert client.post(f"/api/chat/{thread_id}/stop").status_code == 204
        rest = [line for line in lines if line.startswith("data: ")]
    assert time.monotonic() - started < 2
    assert '"type":"abort"' in "".join(rest) and rest[-1] == "data: [DONE]"
    answer = answer_with(server.url, server.api_key, thread_id, "aborted")
    assert text_of(answer) and "".join(SLOW).startswith(text_of(answer)) and text_of(answer) != "".join(SLOW)
    wait_for_sync(lambda: upstream.disconnects > disconnects)


@pytest.fixture(scope="module")
def cancelling(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    process = ParlorServer(tmp_path_factory.mktemp("cancel"), [upstream_provider(upstream)],
                           PARLOR_ON_DISCONNECT="cancel").start()
    try:
        yield RunningServer(process, process.create_user("quitter"))
    finally:
        process.stop()


def test_with_on_disconnect_cancel_leaving_aborts(cancelling: RunningServer, upstream: Upstream,
                                                  marker: str) -> None:
    upstream.push(Script(tokens=SLOW, token_delay=0.03), match=marker)
    disconnects = upstream.disconnects
    thread_id = uuid.uuid4().hex
    start_then_leave(cancelling.url, cancelling.api_key, thread_id, f"leave {marker}", deltas=5)
    answer = answer_with(cancelling.url, cancelling.api_key, thread_id, "aborted")
    assert "".join(SLOW).startswith(text_of(answer)) and len(text_of(answer)) < len("".join(SLOW))
    wait_for_sync(lambda: upstream.disconnects > disconnects)


def test_sigterm_lets_live_streams_finish_and_stores_them(upstream: Upstream, tmp_path: Path, marker: str) -> None:
    process = ParlorServer(tmp_path, [upstream_provider(upstream)], PARLOR_DRAIN_SECONDS="8").start()
    key = process.create_user("drained")
    upstream.push(Script(tokens=SLOW[:20], token_delay=0.1), match=marker)  # a default for the rest
    for _ in range(20):
        upstream.push(Script(tokens=SLOW[:20], token_delay=0.1), match=marker)
    threads = [uuid.uuid4().hex for _ in range(20)]
    results: dict[str, ChatResult] = {}

    def run(thread_id: str) -> None:
        results[thread_id] = chat(process.url, key, thread_id, f"drain {marker}")

    workers = [threading.Thread(target=run, args=(t,)) for t in threads]
    for worker in workers:
        worker.start()
    wait_for_sync(lambda: upstream.active_streams >= 20)
    assert process.process is not None
    process.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    try:  # a new turn is refused: the socket is closed, or the answer is 503 shutting_down
        late = chat(process.url, key, uuid.uuid4().hex, "too late")
        assert late.status == 503 and late.body["error"]["code"] == "shutting_down"
    except httpx.ConnectError:
        pass
    for worker in workers:
        worker.join(30)
    assert process.process.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    process.process = None

    assert all(results[t].done and results[t].text == "".join(SLOW[:20]) for t in threads)
    process.start()
    try:
        for thread_id in threads:
            messages = stored(process.url, key, thread_id)
            assert [m["metadata"]["status"] for m in messages] == ["complete", "complete"]
    finally:
        process.stop()


# ---- two replicas sharing PostgreSQL and Redis ----
@pytest.fixture
def replicas(upstream: Upstream, tmp_path: Path, pg_url: str) -> Iterator[tuple[ParlorServer, ParlorServer]]:
    assert parlor("migrate", env={"PARLOR_DATABASE_URL": pg.direct(pg_url)}).returncode == 0
    shared = {"PARLOR_REDIS_URL": redis_url(), "PARLOR_LIMITS_KEY_PREFIX": f"t{uuid.uuid4().hex[:8]}:"}
    a = ParlorServer(tmp_path / "a", [upstream_provider(upstream)], database_url=pg_url, **shared).start()
    b = ParlorServer(tmp_path / "b", [upstream_provider(upstream)], database_url=pg_url, **shared).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def test_replicas_resume_stop_and_attach_across_each_other(replicas: tuple[ParlorServer, ParlorServer],
                                                           upstream: Upstream, marker: str) -> None:
    a, b = replicas
    key = a.create_user("roamer")
    upstream.push(Script(tokens=SLOW, token_delay=0.03), match=f"resume {marker}")
    thread_id, message_id = uuid.uuid4().hex, uuid.uuid4().hex
    with httpx.Client(headers=auth(key), timeout=30) as client, client.stream(
        "POST", f"{a.url}/api/chat", json=chat_body(thread_id, f"resume {marker}", message_id)
    ) as on_a:
        first = on_a.iter_lines()
        while '"text-delta"' not in next(first):
            pass
        duplicates: list[ChatResult] = []
        retry = threading.Thread(target=lambda: duplicates.append(
            chat(b.url, key, thread_id, f"resume {marker}", message_id=message_id)))
        retry.start()  # a retried POST of the same message, on the other replica, while A generates
        with client.stream("GET", f"{b.url}/api/chat/{thread_id}/stream") as on_b:
            assert on_b.status_code == 200
            resumed = read_stream(on_b)
        retry.join(30)
        duplicate = duplicates[0]
    assert resumed.text == "".join(SLOW) and resumed.types[-1] == "finish"
    assert duplicate.text == "".join(SLOW)  # attached to the run on A, not a second generation
    assert len([r for r in upstream.requests if f"resume {marker}" in str(r["messages"][-1])]) == 1
    assert [m["metadata"]["status"] for m in stored(b.url, key, thread_id)] == ["complete", "complete"]

    upstream.push(Script(tokens=SLOW, token_delay=0.05), match=f"stop {marker}")
    other = uuid.uuid4().hex
    with httpx.Client(headers=auth(key), timeout=30) as client, client.stream(
        "POST", f"{a.url}/api/chat", json=chat_body(other, f"stop {marker}")
    ) as on_a:
        lines = on_a.iter_lines()
        while '"text-delta"' not in next(lines):
            pass
        busy = chat(b.url, key, other, f"meanwhile {marker}")
        assert busy.status == 409 and busy.body["error"]["code"] == "thread_busy"
        assert client.post(f"{b.url}/api/chat/{other}/stop").status_code == 204
        rest = "".join(lines)
    assert '"type":"abort"' in rest
    answer = answer_with(a.url, key, other, "aborted")
    assert text_of(answer) and len(text_of(answer)) < len("".join(SLOW))


@contextmanager
def on_own_database(upstream: Upstream, data_dir: Path, **env: str) -> Iterator[tuple[ParlorServer, Any, str]]:
    """A server on a PostgreSQL cluster of its own (so the test may stop it), and a user's key."""
    from tests.pgcluster import PgCluster

    with PgCluster() as database:
        assert parlor("migrate", env={"PARLOR_DATABASE_URL": database.url}).returncode == 0
        process = ParlorServer(data_dir, [upstream_provider(upstream)], database_url=database.url, **env).start()
        try:
            yield process, database, process.create_user("unlucky")
        finally:
            process.stop()


def stream_through(process: ParlorServer, key: str, thread_id: str, text: str, after_first_token: Any) -> str:
    """Streams a turn, calls `after_first_token()` once text flows, and returns the rest of the stream."""
    with httpx.Client(base_url=process.url, headers=auth(key), timeout=30) as client, client.stream(
        "POST", "/api/chat", json=chat_body(thread_id, text)
    ) as response:
        lines = response.iter_lines()
        while '"text-delta"' not in next(lines):
            pass
        after_first_token()
        return "".join(lines)


def test_a_database_outage_mid_stream_loses_nothing(upstream: Upstream, tmp_path: Path, marker: str) -> None:
    with on_own_database(upstream, tmp_path) as (process, database, key):
        upstream.push(Script(tokens=SLOW[:20], token_delay=0.05), match=marker)
        thread_id = uuid.uuid4().hex
        # the database goes away while the answer streams: the stream ends (it is not held for the
        # database), with the whole text but an error, not a `finish`: the answer is not stored yet
        rest = stream_through(process, key, thread_id, f"outage {marker}", database.stop)
        assert '"type":"error"' in rest and "not saved yet" in rest and '"type":"finish"' not in rest
        assert rest.rstrip().endswith("data: [DONE]") and SLOW[19] in rest
        time.sleep(1)
        database.start()  # ... and comes back: the answer's write, retried, lands
        answer = answer_with(process.url, key, thread_id, "complete")
        assert text_of(answer) == "".join(SLOW[:20])


def test_an_upstream_dying_mid_answer_ends_with_an_error_and_keeps_the_partial(
        server: RunningServer, upstream: Upstream, marker: str) -> None:
    upstream.push(Script(tokens=SLOW[:10], token_delay=0.02, disconnect_after=4), match=marker)
    thread_id = uuid.uuid4().hex
    result = chat(server.url, server.api_key, thread_id, f"die {marker}")
    assert result.done and result.types[-1] == "error" and result.text == "".join(SLOW[:4])
    answer = answer_with(server.url, server.api_key, thread_id, "error")
    assert text_of(answer) == "".join(SLOW[:4]) and answer["metadata"]["error"] == "provider_error"
    # no silent switch after the first token: one request only, the client may retry
    assert len([r for r in upstream.requests if f"die {marker}" in str(r["messages"][-1])]) == 1


def test_an_answer_the_database_never_takes_is_kept(upstream: Upstream, tmp_path: Path, marker: str) -> None:
    with on_own_database(upstream, tmp_path, PARLOR_WRITE_RETRY_SECONDS="2") as (process, database, key):
        upstream.push(Script(tokens=SLOW[:10], token_delay=0.05), match=marker)
        thread_id = uuid.uuid4().hex
        rest = stream_through(process, key, thread_id, f"lost {marker}", database.stop)  # ... for good
        assert ("could not be saved" in rest or "not saved yet" in rest) and '"type":"finish"' not in rest
        unsaved = tmp_path / "unsaved-answers.jsonl"
        kept = wait_for_sync(lambda: unsaved.is_file() and orjson.loads(unsaved.read_bytes().splitlines()[-1]))
        assert kept["thread_id"] == thread_id and kept["status"] == "complete"
        assert "".join(p["text"] for p in kept["parts"] if p["kind"] == "text") == "".join(SLOW[:10])
        assert "".join(SLOW[:10]).strip() not in process.log.read_text()  # kept, but not in the logs
