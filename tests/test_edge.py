"""The HTTP edge: authentication, user creation, request ids, error envelopes, health."""

from __future__ import annotations

import uuid

import httpx
import pytest

from parlor.api import create_api
from tests.client import auth, chat_body
from tests.conftest import RunningServer
from tests.server import ROOT
from tests.test_authorization import _no_lifespan


def test_no_key_or_a_wrong_key_is_401_with_the_envelope(server: RunningServer) -> None:
    for headers in ({}, auth("pk-not-a-real-key"), auth("garbage"), {"Authorization": "Basic abc"}):
        response = httpx.get(f"{server.url}/api/threads", headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "unauthorized"
        assert error["request_id"] == response.headers["x-request-id"]


def test_a_request_id_is_taken_from_the_client_or_made(server: RunningServer) -> None:
    given = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "trace-me-42"})
    assert given.headers["x-request-id"] == "trace-me-42"
    made = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces" and len(made.headers["x-request-id"]) == 32


def test_users_are_created_by_the_admin_token_only(server: RunningServer) -> None:
    name = f"carol-{uuid.uuid4().hex[:6]}"
    url = f"{server.url}/api/users"
    assert httpx.post(url, json={"name": name}).status_code == 401
    forbidden = httpx.post(url, json={"name": name}, headers=auth(server.api_key))
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"

    created = httpx.post(url, json={"name": name, "tier": "pro"}, headers=auth(server.process.admin_token))
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == name and body["tier"] == "pro" and body["api_key"].startswith("pk-")
    me = httpx.get(f"{server.url}/api/me", headers=auth(body["api_key"])).json()
    assert me == {"id": body["id"], "name": name, "tier": "pro", "role": "user", "groups": []}

    again = httpx.post(url, json={"name": name}, headers=auth(server.process.admin_token))
    assert again.status_code == 409 and again.json()["error"]["code"] == "user_exists"


@pytest.mark.parametrize(("content", "status", "code"), [
    (b"{not json", 422, "malformed_json"),
    (b'{"id": "t", "messages": "nope"}', 422, "invalid_request"),
    (b'{"id": "t", "messages": []}', 422, "invalid_request"),
    (b'{"id": "bad id!", "messages": [{"id": "1", "role": "user", "parts": []}]}', 422, "invalid_request"),
    (b'{"id": "t", "messages": [{"id": "1", "role": "robot", "parts": []}]}', 422, "invalid_request"),
])
def test_malformed_chat_bodies_get_a_4xx_code(server: RunningServer, content: bytes, status: int, code: str) -> None:
    response = httpx.post(f"{server.url}/api/chat", content=content, headers={
        **auth(server.api_key), "Content-Type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_oversized_input_is_refused_and_nothing_written(server: RunningServer) -> None:
    key = server.user()
    thread_id = uuid.uuid4().hex
    too_long = httpx.post(f"{server.url}/api/chat", json=chat_body(thread_id, "x" * 32_001), headers=auth(key))
    assert too_long.status_code == 413 and too_long.json()["error"]["code"] == "message_too_long"
    huge = httpx.post(f"{server.url}/api/chat", content=b"x" * 1_100_000,
                      headers={**auth(key), "Content-Type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    assert httpx.get(f"{server.url}/api/threads", headers=auth(key)).json()["threads"] == []


def test_health_and_readiness(server: RunningServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz")
    checks = ready.json()["checks"]
    assert ready.status_code == 200 and checks["database"] is True and checks["providers"] is True
    assert all(checks.values())


def test_unknown_api_routes_are_404_envelopes(server: RunningServer) -> None:
    for path in ("/api/nothing-here", "/v1/nothing-here"):
        response = httpx.get(f"{server.url}{path}", headers=auth(server.api_key))
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_the_web_ui_is_served_for_client_routes(server: RunningServer) -> None:
    for path in ("/", "/t/some-thread"):
        page = httpx.get(f"{server.url}{path}")
        assert page.status_code == 200 and "<html" in page.text.lower()


async def test_a_500_carries_the_request_id_in_its_header_and_envelope() -> None:
    """An unhandled exception is answered inside the request id's middleware (it was answered outside:
    no `X-Request-ID`, and "-" in the envelope)."""
    app = create_api(_no_lifespan, 1_000_000, ROOT / "web" / "dist")

    @app.get("/api/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.insert(0, app.router.routes.pop())  # before the web UI's catch-all route
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://parlor") as client:
        for sent in ({}, {"X-Request-ID": "trace-the-bug-7"}):
            response = await client.get("/api/boom", headers=sent)
            assert response.status_code == 500
            error = response.json()["error"]
            assert error["code"] == "internal_error" and error["request_id"] == response.headers["x-request-id"]
            assert error["request_id"] == sent.get("X-Request-ID", error["request_id"]) != "-"
            assert response.headers["x-content-type-options"] == "nosniff"  # and the security headers
