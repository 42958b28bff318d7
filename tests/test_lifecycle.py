"""The server as a process: configuration errors, start-up, restarts (SQLite and PostgreSQL), the CLI."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests import pg
from tests.cli import parlor
from tests.client import auth, chat
from tests.conftest import RunningServer, upstream_provider
from tests.server import ParlorServer
from tests.upstream import Upstream


@pytest.mark.parametrize(("env", "setting"), [
    ({"PARLOR_PROVIDERS": "not json"}, "PARLOR_PROVIDERS"),
    ({"PARLOR_PROVIDERS": '[{"name": "x", "kind": "openai"}]'}, "PARLOR_PROVIDERS"),
    ({"PARLOR_AUTH": "off", "PARLOR_HOST": "0.0.0.0"}, "PARLOR_AUTH"),
    ({"PARLOR_DATABASE_URL": "mysql://nope"}, "PARLOR_DATABASE_URL"),
    ({"PARLOR_HISTORY_MESSAGES": "-3"}, "PARLOR_HISTORY_MESSAGES"),
])
def test_a_bad_setting_fails_start_up_with_one_line_naming_it(env: dict[str, str], setting: str,
                                                               tmp_path: Path) -> None:
    result = parlor("serve", env=env, cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0], result.stderr


def test_start_up_says_which_mode_and_which_providers(server: RunningServer) -> None:
    first = server.process.log.read_text().splitlines()[0]  # tests/test_first_steps.py: then where it listens
    assert first.startswith("Parlor starting: embedded mode") and "providers: up (openai, test-model)" in first


def restart_keeps_every_thread(upstream: Upstream, data_dir: Path, database_url: str | None) -> None:
    process = ParlorServer(data_dir, [upstream_provider(upstream)], database_url=database_url).start()
    try:
        key = process.create_user("keeper")
        threads = [uuid.uuid4().hex for _ in range(3)]
        for thread_id in threads:
            result = chat(process.url, key, thread_id, f"remember {thread_id}")
            assert result.status == 200 and result.done
        process.restart()
        listing = httpx.get(f"{process.url}/api/threads", headers=auth(key)).json()
        assert sorted(t["id"] for t in listing["threads"]) == sorted(threads)
        for thread_id in threads:
            stored = httpx.get(f"{process.url}/api/threads/{thread_id}", headers=auth(key)).json()
            assert [m["metadata"]["status"] for m in stored["messages"]] == ["complete", "complete"]
            assert stored["messages"][1]["parts"][-1]["text"] == f"You said: remember {thread_id}"
    finally:
        process.stop()


def test_a_restart_keeps_every_thread_on_sqlite(upstream: Upstream, tmp_path: Path) -> None:
    restart_keeps_every_thread(upstream, tmp_path, None)


def test_a_restart_keeps_every_thread_on_postgresql(upstream: Upstream, tmp_path: Path, pg_url: str) -> None:
    migrated = parlor("migrate", env={"PARLOR_DATABASE_URL": pg.direct(pg_url)})
    assert migrated.returncode == 0, migrated.stderr
    restart_keeps_every_thread(upstream, tmp_path, pg_url)


def test_users_are_managed_from_the_command_line(server: RunningServer, tmp_path: Path) -> None:
    env = {"PARLOR_DATABASE_URL": server.process.env["PARLOR_DATABASE_URL"]}
    name = f"cli-{uuid.uuid4().hex[:6]}"
    created = parlor("users", "create", name, "--tier", "pro", "--admin", env=env, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("pk-") and "shown once" in created.stderr

    me = httpx.get(f"{server.url}/api/me", headers=auth(key)).json()
    assert me["name"] == name and me["tier"] == "pro" and me["role"] == "admin"
    listing = parlor("users", "list", env=env, cwd=tmp_path)
    assert name in listing.stdout and "tier=pro" in listing.stdout

    duplicate = parlor("users", "create", name, env=env, cwd=tmp_path)
    assert duplicate.returncode != 0 and "already exists" in duplicate.stderr

    revoked = parlor("users", "revoke", name, env=env, cwd=tmp_path)
    assert revoked.returncode == 0 and "revoked 1 key" in revoked.stdout
    assert httpx.get(f"{server.url}/api/me", headers=auth(key)).status_code == 401


def test_the_terminal_client_streams_a_reply(server: RunningServer, marker: str) -> None:
    result = parlor("chat", f"terminal {marker}", "--url", server.url, "--key", server.api_key)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"You said: terminal {marker}"
    thread_id = result.stderr.strip().split()[-1].rstrip(")")
    stored = httpx.get(f"{server.url}/api/threads/{thread_id}", headers=auth(server.api_key))
    assert stored.status_code == 200 and len(stored.json()["messages"]) == 2

    lines = parlor("chat", "--url", server.url, "--key", server.api_key, stdin=f"one {marker}\ntwo {marker}\n")
    assert lines.stdout.splitlines() == [f"You said: one {marker}", f"You said: two {marker}"]
