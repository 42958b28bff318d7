"""API keys through a real server: stored hashed, shown once, listed without secrets, revocable,
optionally expiring (401 key_expired), and a user manages their own keys only."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.client import auth
from tests.conftest import RunningServer


def rows(server: RunningServer, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(server.process.data_dir / "parlor.db") as db:
        return db.execute(sql, params).fetchall()


def cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parlor", *args], env=server.process.env, capture_output=True,
                          text=True, timeout=60, cwd=server.process.data_dir)


def me(server: RunningServer, key: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/me", headers=auth(key))


def test_keys_are_stored_as_hashes_only(server: RunningServer) -> None:
    key = server.user("hashed")
    assert me(server, key).status_code == 200
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert rows(server, "SELECT prefix FROM api_keys WHERE key_hash = ?", digest) == [(key[:10],)]
    files = [p for p in Path(server.process.data_dir).glob("parlor.db*") if p.is_file()]
    assert files and not any(key.encode() in p.read_bytes() for p in files), "the key itself is on disk"


def test_a_user_creates_lists_and_revokes_their_own_keys(server: RunningServer) -> None:
    first = server.user("keys")
    created = httpx.post(f"{server.url}/api/keys", json={"name": "laptop", "expires_in_days": 7},
                         headers=auth(first))
    assert created.status_code == 201, created.text
    second, second_id = created.json()["api_key"], created.json()["id"]
    expires = datetime.fromisoformat(created.json()["expires_at"])
    assert timedelta(days=6.9) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert me(server, second).json() == me(server, first).json()

    listing = httpx.get(f"{server.url}/api/keys", headers=auth(second))
    keys = listing.json()["keys"]
    assert [k["name"] for k in keys] == ["first key", "laptop"]
    assert [k["current"] for k in keys] == [False, True]
    assert first not in listing.text and second not in listing.text and "hash" not in listing.text
    assert all(k["prefix"] in (first[:10], second[:10]) for k in keys)

    assert httpx.delete(f"{server.url}/api/keys/{second_id}", headers=auth(first)).status_code == 204
    refused = me(server, second)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    assert me(server, first).status_code == 200
    again = httpx.delete(f"{server.url}/api/keys/{second_id}", headers=auth(first))
    assert again.status_code == 404 and again.json()["error"]["code"] == "key_not_found"
    revoked = [k for k in httpx.get(f"{server.url}/api/keys", headers=auth(first)).json()["keys"] if k["revoked_at"]]
    assert [k["id"] for k in revoked] == [second_id]


def test_nobody_revokes_or_sees_another_users_keys(server: RunningServer) -> None:
    alice, mallory = server.user("alice"), server.user("mallory")
    alice_keys = httpx.get(f"{server.url}/api/keys", headers=auth(alice)).json()["keys"]
    attempt = httpx.delete(f"{server.url}/api/keys/{alice_keys[0]['id']}", headers=auth(mallory))
    assert attempt.status_code == 404
    assert me(server, alice).status_code == 200
    theirs = httpx.get(f"{server.url}/api/keys", headers=auth(mallory)).json()["keys"]
    assert alice_keys[0]["id"] not in {k["id"] for k in theirs}


def test_bad_key_bodies_are_refused(server: RunningServer) -> None:
    key = server.user("badbody")
    for body in ({"expires_in_days": 0}, {"expires_in_days": 100_000}, {"name": "x" * 101}, {"name": "a\nb"}):
        response = httpx.post(f"{server.url}/api/keys", json=body, headers=auth(key))
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_request"
    anonymous = httpx.post(f"{server.url}/api/keys", json={})
    assert anonymous.status_code == 401


def test_an_expired_key_gets_key_expired(server: RunningServer) -> None:
    name = f"short-{uuid.uuid4().hex[:6]}"
    done = cli(server, "users", "create", name, "--expires-in", "1s")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert "valid until" in done.stderr
    time.sleep(1.5)
    refused = me(server, key)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "key_expired"
    assert "expired at" in refused.json()["error"]["message"]
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    chat = httpx.post(f"{server.url}/api/chat", json={}, headers=auth(key))
    assert chat.status_code == 401 and chat.json()["error"]["code"] == "key_expired"


def test_cli_and_admin_api_set_an_expiry(server: RunningServer) -> None:
    done = cli(server, "users", "create", f"month-{uuid.uuid4().hex[:6]}", "--expires-in", "30d")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert me(server, key).status_code == 200
    (listed,) = httpx.get(f"{server.url}/api/keys", headers=auth(key)).json()["keys"]
    left = datetime.fromisoformat(listed["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=29.9) < left <= timedelta(days=30)

    bad = cli(server, "users", "create", "never-made", "--expires-in", "soon")
    assert bad.returncode == 2 and "not a duration" in bad.stderr

    made = httpx.post(f"{server.url}/api/users", json={"name": f"adm-{uuid.uuid4().hex[:6]}", "expires_in_days": 1},
                      headers=auth(server.process.admin_token))
    assert made.status_code == 201
    (only,) = httpx.get(f"{server.url}/api/keys", headers=auth(made.json()["api_key"])).json()["keys"]
    assert timedelta(hours=23.9) < datetime.fromisoformat(only["expires_at"]) - datetime.now(UTC) <= timedelta(days=1)


def test_single_sign_on_is_off_unless_configured(server: RunningServer) -> None:
    off = httpx.get(f"{server.url}/auth/oidc/login", follow_redirects=False)
    assert off.status_code == 404 and off.json()["error"]["code"] == "oidc_disabled"
