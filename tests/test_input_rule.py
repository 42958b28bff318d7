"""The input rule (parlor/api/inputs.py) through real servers, on SQLite and on PostgreSQL: text a database
cannot hold (NUL, lone surrogates) in any body, path or query is a 422 naming the field, and afterwards the
database holds exactly what it held before: nothing stored, nothing lost."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import params
from fastapi.routing import APIRoute
from sqlalchemy import select

from parlor.api.inputs import RequestBody, checked_body
from parlor.db import Memory, Message, Thread, create_engine, session_factory
from tests import pg
from tests.cli import parlor
from tests.client import auth, chat, chat_body
from tests.conftest import RunningServer, upstream_provider
from tests.server import ParlorServer
from tests.test_authorization import app_routes
from tests.test_data_rights import rows_naming
from tests.test_fuzz_api import schema
from tests.upstream import Upstream

NUL, SURROGATE = "\x00", "\ud800"


def raw_json(body: Any) -> dict[str, Any]:
    """A body as bytes, JSON-escaped (`\\ud800`): a lone surrogate cannot be encoded any other way."""
    return {"content": json.dumps(body).encode(), "headers": {"Content-Type": "application/json"}}


def multipart_named(filename: bytes) -> dict[str, Any]:
    """An upload whose filename holds the bytes as sent (httpx would percent-escape a NUL)."""
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + filename +
            b'"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n')
    return {"content": body, "headers": {"Content-Type": "multipart/form-data; boundary=b"}}


def bad_requests(thread_id: str, answer_id: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(the field the error must name, method, path, request) for each way a client can send bad text."""
    new = uuid.uuid4().hex
    nested: dict[str, Any] = {}
    for _ in range(40):
        nested = {"x": nested}
    message = {"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}
    return [
        ("messages.0.parts.0.text", "POST", "/api/chat", {"json": chat_body(new, f"hi{NUL}there")}),
        ("messages.0.parts.0.text", "POST", "/api/chat", raw_json(chat_body(thread_id, f"more{SURROGATE}"))),
        ("messages.0.metadata", "POST", "/api/chat", {"json": {"id": new, "messages": [{**message,
                                                                                   "metadata": nested}]}}),
        ("body", "POST", "/api/chat", raw_json({**chat_body(new, "hi"), SURROGATE: 1})),  # an extra field's name
        ("title", "PATCH", f"/api/threads/{thread_id}", {"json": {"title": f"new{NUL}title"}}),
        ("query.q", "GET", "/api/threads", {"params": {"q": f"a{NUL}b"}}),
        ("text", "POST", "/api/memories", {"json": {"text": f"likes{NUL}tea"}}),
        ("comment", "POST", f"/api/messages/{answer_id}/feedback", raw_json({"rating": "up", "comment": SURROGATE})),
        ("path.message_id", "POST", "/api/messages/%00/feedback", {"json": {"rating": "up"}}),
        ("path.key_id", "DELETE", "/api/keys/%00", {}),
        ("name", "POST", "/api/keys", raw_json({"name": f"laptop{SURROGATE}"})),
        ("file.filename", "POST", "/api/documents", multipart_named(b"notes\x00.txt")),
        ("messages.0.content", "POST", "/v1/chat/completions",
         {"json": {"model": "up", "messages": [{"role": "user", "content": f"hi{NUL}"}]}}),
        ("messages.0.content", "POST", "/v1/chat/completions", raw_json(
            {"model": "up", "messages": [{"role": "user", "content": [{"type": "text", "text": SURROGATE}]}]})),
    ]


def admin_bad_requests() -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        ("path.user_id", "PATCH", "/api/users/%00", {"json": {"tier": "pro"}}),
        ("name", "POST", "/api/users", raw_json({"name": f"eve{SURROGATE}"})),
        ("body", "PUT", "/api/admin/experiments/colours", {"json": {"variants": [{"name": f"a{NUL}"}]}}),
        ("query.user", "GET", "/api/admin/runs", {"params": {"user": NUL}}),
    ]


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, (field, response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith(f"{field}: "), error
    assert error["request_id"] == response.headers["x-request-id"]


async def stored(database_url: str, needles: set[str]) -> dict[str, Any]:
    """What the database holds for these ids: row counts of every table naming them, and the content."""
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            threads = (await session.execute(select(Thread.id, Thread.title).where(Thread.id.in_(needles)))).all()
            messages = (await session.execute(select(Message.id, Message.text, Message.status).where(
                Message.thread_id.in_(needles)).order_by(Message.id))).all()
            memories = (await session.execute(select(Memory.text).where(Memory.user_id.in_(needles)))).all()
        return {"rows": await rows_naming(sessions, needles), "threads": threads, "messages": messages,
                "memories": memories}
    finally:
        await engine.dispose()


def nothing_stored_nothing_lost(url: str, database_url: str, key: str, admin_token: str) -> None:
    thread_id = uuid.uuid4().hex
    assert chat(url, key, thread_id, "a question worth keeping").done
    user_id = httpx.get(f"{url}/api/me", headers=auth(key)).json()["id"]
    answer_id = httpx.get(f"{url}/api/threads/{thread_id}", headers=auth(key)).json()["messages"][1]["id"]
    cases = bad_requests(thread_id, answer_id)
    needles = {user_id, thread_id, answer_id, *(c[3]["json"]["id"] for c in cases[:3] if "json" in c[3])}
    before = asyncio.run(stored(database_url, needles))
    assert before["rows"]["messages"] == 2 and before["threads"][0].title == "a question worth keeping"
    for field, method, path, request in cases:
        assert_refused(httpx.request(method, url + path, headers={**auth(key), **request.pop("headers", {})},
                                     timeout=30, **request), field)
    for field, method, path, request in admin_bad_requests():
        assert_refused(httpx.request(method, url + path, headers={**auth(admin_token), **request.pop("headers", {})},
                                     timeout=30, **request), field)
    assert asyncio.run(stored(database_url, needles)) == before


def test_bad_text_is_refused_and_nothing_stored_on_sqlite(server: RunningServer) -> None:
    nothing_stored_nothing_lost(server.url, server.process.env["PARLOR_DATABASE_URL"], server.user(),
                                      server.admin_token)


@pytest.fixture
def pg_server(upstream: Upstream, tmp_path: Path, pg_url: str) -> Iterator[ParlorServer]:
    migrated = parlor("migrate", env={"PARLOR_DATABASE_URL": pg.direct(pg_url)})
    assert migrated.returncode == 0, migrated.stderr
    process = ParlorServer(tmp_path, [upstream_provider(upstream)], database_url=pg_url).start()
    try:
        yield process
    finally:
        process.stop()


def test_bad_text_is_refused_and_nothing_stored_on_postgresql(pg_server: ParlorServer) -> None:
    nothing_stored_nothing_lost(pg_server.url, pg_server.env["PARLOR_DATABASE_URL"],
                                      pg_server.create_user("pg-input"), pg_server.admin_token)
    every_path_parameter_refuses_a_nul(pg_server.url, pg_server.admin_token)


def every_path_parameter_refuses_a_nul(url: str, token: str) -> None:
    """Each route with a parameter in its path, called with a NUL in each: a 422 naming it, never a 500."""
    for name, route in app_routes().items():
        method, path = name.split(" ", 1)
        params = re.findall(r"{(\w+)(?::path)?}", path)
        if not isinstance(route, APIRoute) or not params:
            continue
        for param in params:
            called = re.sub(r"{(\w+)(?::path)?}", lambda m: "%00" if m[1] == param else "x", path)  # noqa: B023
            assert_refused(httpx.request(method, url + called, headers=auth(token), timeout=30), f"path.{param}")


def test_every_path_parameter_refuses_a_nul_on_sqlite(server: RunningServer) -> None:
    every_path_parameter_refuses_a_nul(server.url, server.admin_token)


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "object"}
    for _ in range(levels):
        value = {"x": value}
    return value


def completion(**fields: Any) -> dict[str, Any]:
    return {"model": "up", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_numbers_and_nesting_past_their_bounds_are_422s(server: RunningServer) -> None:
    key = server.user()
    user_id = httpx.get(f"{server.url}/api/me", headers=auth(key)).json()["id"]
    database_url = server.process.env["PARLOR_DATABASE_URL"]
    before = asyncio.run(stored(database_url, {user_id}))
    tool = {"type": "function", "function": {"name": "f", "parameters": deep(300)}}
    cases = [
        ("max_tokens", {"json": completion(max_tokens=10**40)}),  # was a 500 (past orjson's 64 bits)
        ("max_completion_tokens", {"json": completion(max_completion_tokens=1_000_001)}),
        ("tools.0.function.parameters", {"json": completion(tools=[tool])}),  # was a 500 (orjson's depth)
        ("tool_choice", {"json": completion(tool_choice={"type": "function", "n": 2**64})}),
        ("temperature", {"content": json.dumps(completion(temperature=float("nan"))).encode()}),  # NaN in JSON
        ("stream_options", {"content": json.dumps(completion(stream_options={"x": float("inf")})).encode()}),
    ]
    for field, request in cases:
        headers = {**auth(key), "Content-Type": "application/json"}
        assert_refused(httpx.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30, **request), field)
    assert asyncio.run(stored(database_url, {user_id})) == before  # no run, no usage recorded


def _integers(schema: Any, components: dict[str, Any], where: str, seen: set[str]) -> Iterator[tuple[str, Any]]:
    """Every integer in a JSON Schema (following $refs once each), with where it is."""
    if isinstance(schema, dict):
        if "$ref" in schema and schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            yield from _integers(components[schema["$ref"].rsplit("/", 1)[1]], components, where, seen)
        if schema.get("type") == "integer":
            yield where, schema
        for name, child in schema.items():
            yield from _integers(child, components, f"{where}.{name}", seen)
    elif isinstance(schema, list):
        for child in schema:
            yield from _integers(child, components, where, seen)


def test_every_integer_a_client_sends_is_bounded_in_the_schema() -> None:
    document = schema.raw_schema
    components = document["components"]["schemas"]
    unbounded = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            sent = [*operation.get("parameters", []), operation.get("requestBody", {})]
            for where, integer in _integers(sent, components, f"{method.upper()} {path}", set()):
                if "maximum" not in integer or "minimum" not in integer:
                    unbounded.append(where)
    assert unbounded == []


def test_every_request_body_follows_the_input_rule() -> None:
    """A body is a RequestBody (or checked with the same rule), so no route can forget the rule."""
    for name, route in app_routes().items():
        if not isinstance(route, APIRoute) or route.body_field is None:
            continue
        for param in route.dependant.body_params:
            if isinstance(param.field_info, params.Form):  # the upload: its filename checked in the route
                continue
            annotation, metadata = param.field_info.annotation, param.field_info.metadata
            checked = any(getattr(m, "func", None) is checked_body for m in metadata)
            assert checked or (isinstance(annotation, type) and issubclass(annotation, RequestBody)), name
