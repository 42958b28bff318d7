"""Logs and readiness through a real `parlor serve`: one request's id in its log lines (background
tasks included), its trace, its usage row and its run record; no API key in any line; /readyz names
what is down (Redis, every provider's breaker)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from parlor.observability.logs import CONTENT_LOGGER, configure_logging
from parlor.tasks import TaskTracker
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.helpers.redis import own_redis, redis_url
from tests.helpers.runs import run_record
from tests.helpers.wait import wait_for_sync
from tests.server import ParlorServer
from tests.upstream import Script, Upstream

ADMIN = "obs-admin-token-0123"
STARTUP = 120.0  # seconds: importing the app is slow on a loaded machine (the MCP SDK alone is seconds)


@pytest.fixture(scope="module")
def json_server(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    providers = [{**upstream_provider(upstream, "first"), "retries": 0}, upstream_provider(upstream, "second")]
    process = ParlorServer(tmp_path_factory.mktemp("obs"), providers, admin_token=ADMIN,
                           PARLOR_LOG_FORMAT="json", PARLOR_TRACING="on").start(STARTUP)
    try:
        yield process
    finally:
        process.stop()


def log_lines(server: ParlorServer) -> list[dict[str, Any]]:
    lines = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_a_request_id_is_in_its_logs_trace_usage_row_and_run_record(json_server: ParlorServer, upstream: Upstream,
                                                                     marker: str) -> None:
    key = json_server.create_user(f"ids-{marker}")
    upstream.push(Script(status=503), match=marker)  # the first provider fails (logged by the run's own task)
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    thread_id = uuid.uuid4().hex
    with httpx.Client(base_url=json_server.url, timeout=30) as client:
        body = {"id": thread_id, "trigger": "submit-message", "messages": [
            {"id": uuid.uuid4().hex, "role": "user", "parts": [{"type": "text", "text": f"hello {marker}"}]}]}
        response = client.post("/api/chat", json=body, headers={**auth(key), "X-Request-ID": request_id})
    assert response.status_code == 200 and f"You said: hello {marker}" in response.text
    assert response.headers["x-request-id"] == request_id
    trace_id = response.headers["x-trace-id"]

    lines = wait_for_sync(lambda: [line for line in log_lines(json_server) if line.get("request_id") == request_id
                                   and line.get("event") == "request"] and
                          [line for line in log_lines(json_server) if line.get("request_id") == request_id])
    summary = next(line for line in lines if line["event"] == "request")
    assert summary["method"] == "POST" and summary["path"] == "/api/chat" and summary["status"] == 200
    assert summary["thread"] == thread_id and summary["user"] and summary["duration_ms"] > 0
    assert summary["ttft_ms"] > 0 and summary["trace_id"] == trace_id
    retried = [line for line in lines if "failed before its first token" in line["event"]]  # logged in the run's task
    assert retried and all(line["trace_id"] == trace_id and line["thread"] == thread_id for line in retried)
    assert marker not in json.dumps(lines)  # the message's text is not logged

    record = run_record(json_server, request_id)
    assert record["trace_id"] == trace_id and record["thread_id"] == thread_id and record["status"] == "complete"
    assert [(p["provider"], p["error"]) for p in record["providers"]] == [("first", "unavailable"), ("second", None)]
    with sqlite3.connect(json_server.data_dir / "parlor.db") as db:
        usage = wait_for_sync(lambda: db.execute("SELECT request_id, thread_id FROM usage WHERE request_id = ?",
                                                 (request_id,)).fetchall())
    assert usage == [(request_id, thread_id)]


def test_no_api_key_reaches_the_logs(json_server: ParlorServer) -> None:
    real = json_server.create_user(f"keys-{uuid.uuid4().hex[:6]}")
    wrong = "pk-" + uuid.uuid4().hex + "notvalid"
    odd = "notapk-" + uuid.uuid4().hex  # not Parlor's key shape
    with httpx.Client(base_url=json_server.url, timeout=10) as client:
        assert client.get("/api/threads", headers=auth(wrong)).status_code == 401
        assert client.get("/api/threads", headers=auth(odd)).status_code == 401
        assert client.get("/api/admin/runs", headers=auth("wrong-admin-" + uuid.uuid4().hex)).status_code == 401
        assert client.get(f"/api/threads/{real}", headers=auth(real)).status_code == 404  # the key in a path
        assert client.get("/api/threads", headers={**auth(real), "X-Request-ID": real}).status_code == 200
    text = json_server.log.read_text()
    lines = wait_for_sync(lambda: [line for line in log_lines(json_server) if line.get("status") == 401])
    assert len(lines) >= 3
    for secret in (real, wrong, odd, ADMIN):
        assert secret not in text
    assert "[redacted]" in text


def refused(samples: str) -> float:
    return sum(s.value for family in text_string_to_metric_families(samples) for s in family.samples
               if s.name == "parlor_http_requests_total" and s.labels["status"] == "413")


def test_a_body_refused_before_routing_is_logged_traced_and_counted(json_server: ParlorServer) -> None:
    key = json_server.create_user(f"big-{uuid.uuid4().hex[:6]}")
    before = refused(httpx.get(f"{json_server.url}/metrics").text)
    ids = [f"big-{uuid.uuid4().hex[:10]}", f"chunked-{uuid.uuid4().hex[:10]}"]
    headers = {**auth(key), "Content-Type": "application/json"}
    with httpx.Client(base_url=json_server.url, timeout=30) as client:
        declared = client.post("/api/chat", content=b"x" * 1_100_000, headers={**headers, "X-Request-ID": ids[0]})
        streamed = client.post("/api/chat", content=iter([b"x" * 65536] * 20),  # chunked: no Content-Length
                               headers={**headers, "X-Request-ID": ids[1]})
    for response, request_id in zip((declared, streamed), ids, strict=True):
        assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
        assert response.headers["x-request-id"] == request_id and len(response.headers["x-trace-id"]) == 32
        line = wait_for_sync(lambda rid=request_id: next((line for line in log_lines(json_server)  # type: ignore[misc]
                                                          if line.get("request_id") == rid
                                                          and line["event"] == "request"), None))
        assert line["status"] == 413 and line["path"] == "/api/chat" and line["error"] == "payload_too_large"
        assert line["trace_id"] == response.headers["x-trace-id"] and line["method"] == "POST"
    assert refused(httpx.get(f"{json_server.url}/metrics").text) - before == 2


def test_lines_from_background_tasks_carry_the_request_id_and_secrets_are_masked() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("info", "json", secrets=["s3cr3t-admin"], stream=stream)
    try:
        async def scenario() -> None:
            tasks = TaskTracker()
            structlog.contextvars.bind_contextvars(request_id="req-bg", trace_id="t" * 32)

            async def background() -> None:
                logging.getLogger("parlor.test").warning("token s3cr3t-admin and Bearer abc.def, key pk-%s", "x" * 20)

            async def broken() -> None:
                raise RuntimeError("boom")

            tasks.spawn(background(), name="bg")
            tasks.spawn(broken(), name="broken")
            structlog.contextvars.clear_contextvars()
            logging.getLogger(CONTENT_LOGGER).error("the user said: hello")  # content: off by default
            await tasks.drain(2)

        asyncio.run(scenario())
    finally:
        root.handlers, _ = saved[0], root.setLevel(saved[1])
        structlog.reset_defaults()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    warning = next(line for line in lines if line["logger"] == "parlor.test")
    assert warning["request_id"] == "req-bg" and warning["trace_id"] == "t" * 32
    assert "s3cr3t-admin" not in warning["event"] and "abc.def" not in warning["event"]
    assert "x" * 20 not in warning["event"]
    failed = next(line for line in lines if "background task broken failed" in line["event"])
    assert failed["request_id"] == "req-bg" and "RuntimeError: boom" in failed["exception"]
    assert not [line for line in lines if line["logger"] == CONTENT_LOGGER]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A Redis of this test's own, on a free port (the shared one on 6379 is never stopped)."""
    with own_redis(tmp_path) as found:
        yield found


def test_readyz_names_redis_when_it_stops(redis_server: tuple[subprocess.Popen[bytes], int], upstream: Upstream,
                                          tmp_path: Path) -> None:
    redis, port = redis_server
    server = ParlorServer(tmp_path / "parlor", [upstream_provider(upstream)],
                          PARLOR_REDIS_URL=redis_url(port)).start(STARTUP)
    try:
        ready = httpx.get(f"{server.url}/readyz", timeout=5)
        checks = ready.json()["checks"]
        assert ready.status_code == 200 and {"database", "redis", "queue", "providers"} <= set(checks)
        assert all(checks.values())
        redis.terminate()
        redis.wait(5)
        started = time.monotonic()
        down = httpx.get(f"{server.url}/readyz", timeout=10)
        assert time.monotonic() - started < 3  # each check has a short timeout
        assert down.status_code == 503
        error = down.json()["error"]
        assert "redis" in error["failed"] and "database" not in error["failed"]
        assert "queue" in error["failed"]  # the job stream lives in that Redis
        assert "redis" in error["message"] and error["reasons"]["redis"]
    finally:
        server.stop()


def test_readyz_fails_when_every_providers_circuit_is_open(upstream: Upstream, tmp_path: Path, marker: str) -> None:
    provider = {**upstream_provider(upstream), "breaker_threshold": 1, "breaker_cooldown": 600, "retries": 0}
    server = ParlorServer(tmp_path, [provider]).start(STARTUP)
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        upstream.push(Script(status=500), match=marker)
        result = chat(server.url, server.create_user("breaker"), uuid.uuid4().hex, f"fail {marker}")
        assert any(c["type"] == "error" for c in result.chunks)
        down = httpx.get(f"{server.url}/readyz")
        assert down.status_code == 503 and down.json()["error"]["failed"] == ["providers"]
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'parlor_circuit_breaker_state{provider="up"} 2.0' in metrics
    finally:
        server.stop()
