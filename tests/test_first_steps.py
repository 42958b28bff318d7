"""Every first step that goes wrong says what to do in one line, never a traceback: the real `parlor`
command as a process, against nothing, a real server, and real PostgreSQL databases of each test's own."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from parlor.db import schema
from parlor.db.engine import MIGRATIONS
from tests import pg
from tests.cli import parlor
from tests.conftest import RunningServer
from tests.helpers.redis import redis_url
from tests.migrations_kit import migrate_to
from tests.pg import admin_dsn
from tests.server import ParlorServer, free_port

SCRIPTED = [{"name": "echo", "kind": "scripted", "model": "echo"}]


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failed command's only line of output."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_chat_without_a_server_says_to_start_one_or_pass_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    said = one_line(parlor("chat", "hello", env={"PARLOR_URL": url}))
    assert said == f"Error: cannot reach {url} — start `parlor serve` or pass `--url`"
    other = f"http://127.0.0.1:{free_port()}"
    assert other in one_line(parlor("chat", "hello", "--url", other, env={"PARLOR_URL": url}))  # --url wins


def test_chat_without_a_key_says_to_pass_one(server: RunningServer) -> None:
    said = one_line(parlor("chat", "hello", "--url", server.url, env={"PARLOR_API_KEY": ""}))
    assert said.startswith("Error: 401 unauthorized: ") and said.endswith(" — pass --key or set PARLOR_API_KEY")


def test_chat_help_shows_the_real_default_url_and_the_variable() -> None:
    shown = " ".join(parlor("chat", "--help").stdout.split())
    assert "env var: PARLOR_URL; default: http://127.0.0.1:8000" in shown


def test_serve_says_listening_only_once_it_answers(tmp_path: Path) -> None:
    server = ParlorServer(tmp_path, SCRIPTED)
    process = subprocess.Popen([sys.executable, "-m", "parlor", "serve"], env=server.env, cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr or ()], daemon=True).start()
    try:
        seen = []
        while not seen or "listening on" not in seen[-1]:
            seen.append(lines.get(timeout=120))
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200  # at once: no retry
        assert seen[-1].strip() == f"Parlor listening on {server.url}"
        assert "embedded mode" in seen[0] and "providers: echo (scripted, echo)" in seen[0]

        again = parlor("serve", env=server.env, cwd=tmp_path)  # the same port, taken
        assert one_line(again) == (f"Error: cannot listen on 127.0.0.1:{server.port}: Address already in use "
                                   "(another server?): stop it or pass --port")
    finally:
        process.terminate()
        process.wait(30)


def test_serve_on_an_unmigrated_postgresql_says_to_run_parlor_migrate(tmp_path: Path, pg_url: str) -> None:
    server = ParlorServer(tmp_path, SCRIPTED, database_url=pg_url)
    started = time.monotonic()
    said = one_line(parlor("serve", env=server.env, cwd=tmp_path))
    assert said.endswith(f"schema is at none (empty), this release needs {schema.head()}: run `parlor migrate`")
    assert pg_url.rsplit("/", 1)[1] in said
    assert time.monotonic() - started < 30  # said before any model or app starts


async def test_serve_and_worker_on_an_older_schema_say_which_and_what_to_do(tmp_path: Path, pg_url: str) -> None:
    await migrate_to(pg_url, "0007_experiments")  # the migrate Job of this release has not run (or not ended)
    server = ParlorServer(tmp_path, SCRIPTED, database_url=pg_url)
    for command in ("serve", "worker"):
        env = {**server.env, "PARLOR_REDIS_URL": "redis://127.0.0.1:1/0"}  # the worker needs one named
        said = one_line(await asyncio.to_thread(parlor, command, env=env, cwd=tmp_path))
        assert said.startswith("Error: the database postgresql+asyncpg://") and "Traceback" not in said
        assert said.endswith(f"schema is at 0007_experiments, this release needs {schema.head()}: "
                             "run `parlor migrate`"), command
    admin = await pg.connect(pg_url)
    try:  # a rollback past the release that migrated it
        await admin.execute("UPDATE alembic_version SET version_num = '9999_future'")
    finally:
        await admin.close()
    said = one_line(await asyncio.to_thread(parlor, "serve", env=server.env, cwd=tmp_path))
    assert said.endswith(f"schema is at 9999_future, newer than this release ({schema.head()}) knows: "
                         "run that release")


def test_migrate_says_which_database_and_what_it_applied(pg_url: str) -> None:
    with_password = pg.direct(pg_url).replace("postgres@", "postgres:s3cret@")  # trust auth: the password goes unused
    env = {"PARLOR_DATABASE_URL": with_password}
    first = parlor("migrate", env=env)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"migrating {with_password.replace('s3cret', '***')}" and "s3cret" not in first.stdout
    revisions = sorted(path.name for path in (MIGRATIONS / "versions").glob("0*.py"))
    assert len(lines[1:]) == len(revisions) and all(line.startswith("applied 0") for line in lines[1:])
    assert lines[1] == "applied 0001 (users, api keys, threads, messages, usage)"
    assert parlor("migrate", env=env).stdout.splitlines()[1:] == ["already up to date"]


async def test_worker_without_pgvector_says_so_in_one_line(pg_url: str) -> None:
    admin = await pg.connect(admin_dsn())
    try:
        if await admin.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"):
            pytest.skip("this PostgreSQL has pgvector")
        major = (await admin.fetchval("SHOW server_version")).split(".")[0]
    finally:
        await admin.close()
    env = {"PARLOR_DATABASE_URL": pg_url, "PARLOR_REDIS_URL": redis_url(),
           "PARLOR_JOBS_QUEUE": f"t-{uuid.uuid4().hex[:8]}:jobs"}
    assert parlor("migrate", env={**env, "PARLOR_DATABASE_URL": pg.direct(pg_url)}).returncode == 0
    said = one_line(parlor("worker", env=env, timeout=120))
    port = make_url(pg_url).port  # the worker's own address for it: a pooler's, when one is in front
    assert said.startswith(f"Error: the knowledge base cannot start: PostgreSQL at 127.0.0.1:{port}/") and \
        "has no pgvector" in said and f"install the package postgresql-{major}-pgvector" in said
