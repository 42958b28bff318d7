"""Transport and headers through real servers: security headers on the UI, the API, errors and streams;
CORS closed by default and open to configured origins only; X-Forwarded-For believed from trusted proxies
only (the invalid-key limiter counts by client address); secrets read from files, never in logs or errors."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.upstream import Upstream

ADMIN_SECRET = f"admin-from-file-{uuid.uuid4().hex}"
ORIGIN = "https://chat.example.com"


@pytest.fixture(scope="module")
def closed(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    """Defaults (no CORS origin, no trusted proxy), its admin token read from a file."""
    data = tmp_path_factory.mktemp("closed")
    secret = data / "admin_token"
    secret.write_text(ADMIN_SECRET + "\n")
    process = ParlorServer(data, [upstream_provider(upstream)], admin_token=ADMIN_SECRET,
                           PARLOR_AUTH_FAILURES_PER_MINUTE="3", PARLOR_ADMIN_TOKEN_FILE=str(secret),
                           PARLOR_LOG_LEVEL="debug")
    del process.env["PARLOR_ADMIN_TOKEN"]  # only the file holds it
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def proxied(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    process = ParlorServer(tmp_path_factory.mktemp("proxied"), [upstream_provider(upstream)],
                           PARLOR_AUTH_FAILURES_PER_MINUTE="3", PARLOR_CORS_ORIGINS=f"{ORIGIN},http://localhost:5173",
                           PARLOR_TRUSTED_PROXIES="127.0.0.1").start()
    try:
        yield process
    finally:
        process.stop()


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {words[0]: words[1:] for words in parts}


def assert_secure(response: httpx.Response) -> None:
    headers = response.headers
    policy = _directives(headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"], policy  # no inline script, no eval, no other origin
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in headers["permissions-policy"] and "microphone=()" in headers["permissions-policy"]


def test_every_kind_of_answer_carries_the_security_headers(closed: ParlorServer) -> None:
    key = closed.create_user("headers")
    ui = httpx.get(f"{closed.url}/some/client/route")
    assert ui.status_code == 200 and "text/html" in ui.headers["content-type"]
    answers = [ui, httpx.get(f"{closed.url}/healthz"), httpx.get(f"{closed.url}/api/me"),
               httpx.get(f"{closed.url}/api/threads/nope", headers=auth(key)),
               httpx.post(f"{closed.url}/api/chat", content=b"x" * 2_000_000, headers=auth(key)),
               httpx.get(f"{closed.url}/favicon.svg")]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 413, 200]
    for answer in answers:
        assert_secure(answer)
    streamed = chat(closed.url, key, uuid.uuid4().hex, "hello")
    assert streamed.status == 200 and streamed.done
    assert streamed.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in ui.headers  # plain HTTP, no trusted proxy saying otherwise


def test_the_built_ui_needs_no_inline_script(closed: ParlorServer) -> None:
    html = httpx.get(closed.url).text
    if "Parlor is running" in html:
        pytest.skip("the web UI is not built")
    scripts = html.split("<script")[1:]
    assert scripts and all(" src=" in s.split(">", 1)[0] for s in scripts), "an inline script would be blocked"


def test_cors_is_closed_by_default(closed: ParlorServer) -> None:
    preflight = httpx.options(f"{closed.url}/api/me", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in preflight.headers
    simple = httpx.get(f"{closed.url}/healthz", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_opens_to_the_configured_origins_only(proxied: ParlorServer) -> None:
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = httpx.options(f"{proxied.url}/api/chat", headers={"Origin": ORIGIN, **ask})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = httpx.options(f"{proxied.url}/api/chat", headers={"Origin": "https://evil.example", **ask})
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    key = proxied.create_user("cors")
    read = httpx.get(f"{proxied.url}/api/me", headers={"Origin": ORIGIN, **auth(key)})
    assert read.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in read.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in httpx.get(f"{proxied.url}/api/me", headers={
        "Origin": "https://evil.example", **auth(key)}).headers


def _bad_keys(server: ParlorServer, forwarded_for: list[str]) -> list[int]:
    return [httpx.get(f"{server.url}/api/me", headers={"Authorization": f"Bearer nope-{uuid.uuid4().hex}",
                                                       "X-Forwarded-For": ip}).status_code for ip in forwarded_for]


def test_without_a_trusted_proxy_x_forwarded_for_cannot_dodge_the_invalid_key_limit(closed: ParlorServer) -> None:
    spoofed = [f"198.51.100.{i}" for i in range(1, 6)]  # a new "address" each time: still one client
    assert _bad_keys(closed, spoofed) == [401, 401, 401, 429, 429]
    https = httpx.get(f"{closed.url}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in https.headers


def test_a_trusted_proxy_gives_each_client_its_own_address(proxied: ParlorServer) -> None:
    assert _bad_keys(proxied, ["203.0.113.7"] * 4) == [401, 401, 401, 429]
    assert _bad_keys(proxied, ["203.0.113.8"]) == [401]  # another client behind the proxy: its own count
    https = httpx.get(f"{proxied.url}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert https.headers["strict-transport-security"].startswith("max-age=")


def test_the_admin_token_comes_from_its_file_and_never_reaches_the_log(closed: ParlorServer) -> None:
    assert closed.create_user("from-file")  # ADMIN_SECRET from PARLOR_ADMIN_TOKEN_FILE works
    assert httpx.get(f"{closed.url}/api/users", headers=auth("wrong-token")).status_code == 401
    bad = httpx.get(f"{closed.url}/api/users", headers=auth(ADMIN_SECRET + "x"))  # near miss: logged as a failure
    assert bad.status_code == 401 and ADMIN_SECRET not in bad.text
    assert ADMIN_SECRET not in closed.log.read_text()


def _serve_error(tmp_path: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARLOR_")}
    done = subprocess.run([sys.executable, "-m", "parlor", "serve"], env={**clean, **env}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    return done.stdout + done.stderr


def test_settings_errors_never_show_a_secret(tmp_path: Path) -> None:
    password = f"pw{uuid.uuid4().hex}"
    said = _serve_error(tmp_path, PARLOR_DATABASE_URL=f"mysql://parlor:{password}@db/parlor")
    assert "PARLOR_DATABASE_URL" in said and password not in said
    secret = tmp_path / "providers.json"
    secret.write_text(f'[{{"name": "x", "kind": "openai", "api_key": "{password}"')  # broken JSON
    said = _serve_error(tmp_path, PARLOR_PROVIDERS_FILE=str(secret))
    assert "PARLOR_PROVIDERS_FILE" in said and "not valid JSON" in said and password not in said
    said = _serve_error(tmp_path, PARLOR_ADMIN_TOKEN_FILE=str(tmp_path / "missing"))
    assert "PARLOR_ADMIN_TOKEN_FILE" in said and "cannot read" in said
