"""Data rights: export everything a user owns, delete it all (no row of theirs left in any table, no
chunk, vector or file), on SQLite through a real server and on PostgreSQL; retention purges idle threads."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import String, Text, func, or_, select

from parlor.accounts import AccountStore
from parlor.accounts.data import AccountData
from parlor.db import (
    Base,
    Document,
    Identity,
    Memory,
    Message,
    Thread,
    Usage,
    create_engine,
    migrate,
    session_factory,
    utcnow,
)
from tests.client import auth, chat
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.test_tool_injection import calls, upload_ready
from tests.upstream import Script, Upstream, filler_tokens


def ids_in(value: Any) -> set[str]:
    """Every `id`-like string in an export (the user's own ids, threads, messages, documents, keys…)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if (key == "id" or key.endswith("_id")) and isinstance(item, str) and item:
                found.add(item)
            found |= ids_in(item)
    elif isinstance(value, list):
        for item in value:
            found |= ids_in(item)
    return found


def sqlite_hits(path: Path, needles: set[str]) -> list[str]:
    """Where any needle is the whole value of a text column, or inside one, in any table of the file."""
    hits: list[str] = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            try:
                rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
            except sqlite3.OperationalError:  # a virtual table whose module this sqlite3 lacks
                continue
            for row in rows:
                text = " ".join(str(v) for v in row if isinstance(v, str))
                hits += [f"{table}: {n}" for n in needles if n in text]
    return hits


@pytest.fixture(scope="module")
def rights(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    process = ParlorServer(tmp_path_factory.mktemp("rights"), [upstream_provider(upstream)],
                           PARLOR_RETENTION_DAYS="30", PARLOR_RETENTION_INTERVAL_SECONDS="1").start(90)
    try:
        yield process
    finally:
        process.stop()


def test_export_then_delete_leaves_nothing_of_the_user(rights: ParlorServer, upstream: Upstream, marker: str) -> None:
    alice_name, bob_name = f"alice-{marker}", f"bob-{uuid.uuid4().hex[:8]}"  # only Alice's data has the marker
    alice, bob = rights.create_user(alice_name), rights.create_user(bob_name)
    upstream.push(calls(("remember", {"fact": f"Likes {marker} tea."})), match=marker)
    upstream.push(Script(text="Noted."), match=marker)
    thread = f"t-{marker}"
    assert chat(rights.url, alice, thread, f"remember my tea {marker}").done
    document_id = upload_ready(rights, alice, "notes.md", f"# Notes\n\nAlice's notes about {marker}.\n")
    extra = httpx.post(f"{rights.url}/api/keys", json={"name": "spare"}, headers=auth(alice)).json()
    bob_thread = uuid.uuid4().hex
    chat(rights.url, bob, bob_thread, "bob's own chat")

    started = time.perf_counter()
    exported = httpx.get(f"{rights.url}/api/account/export", headers=auth(alice), timeout=60)
    print(f"export: {time.perf_counter() - started:.3f} s")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    data = exported.json()
    assert data["user"]["name"] == alice_name
    (only,) = data["threads"]
    assert only["id"] == thread and [m["role"] for m in only["messages"]][:2] == ["user", "assistant"]
    assert f"remember my tea {marker}" in only["messages"][0]["text"]
    assert [d["id"] for d in data["documents"]] == [document_id] and data["documents"][0]["filename"] == "notes.md"
    assert [m["text"] for m in data["memories"]] == [f"Likes {marker} tea."]
    assert data["usage"] and data["runs"] and all(u["user_id"] == data["user"]["id"] for u in data["usage"])
    assert {k["name"] for k in data["api_keys"]} == {"first key", "spare"}
    assert alice not in exported.text and extra["api_key"] not in exported.text and "key_hash" not in exported.text
    assert bob_name not in exported.text

    wrong = httpx.request("DELETE", f"{rights.url}/api/account", json={"confirm": bob_name}, headers=auth(alice),
                          timeout=60)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "confirmation_mismatch"
    started = time.perf_counter()
    gone = httpx.request("DELETE", f"{rights.url}/api/account", json={"confirm": alice_name}, headers=auth(alice),
                         timeout=60)
    print(f"delete: {time.perf_counter() - started:.3f} s")
    assert gone.status_code == 200, gone.text
    assert gone.json()["rows"]["users"] == 1

    assert httpx.get(f"{rights.url}/api/me", headers=auth(alice)).status_code == 401
    owned = ids_in(data) - {None} | {marker}  # every id they had, and the word only their data contained
    owned -= {""}
    hits = sqlite_hits(rights.data_dir / "parlor.db", owned) + sqlite_hits(rights.data_dir / "vectors.sqlite", owned)
    assert not hits, hits
    assert not list((rights.data_dir / "documents").glob(f"{data['user']['id']}/*"))
    assert httpx.get(f"{rights.url}/api/threads/{bob_thread}", headers=auth(bob)).status_code == 200


def test_deleting_an_account_stops_its_reply_first(rights: ParlorServer, upstream: Upstream) -> None:
    name = f"busy-{uuid.uuid4().hex[:8]}"
    key = rights.create_user(name)
    user_id = httpx.get(f"{rights.url}/api/me", headers=auth(key)).json()["id"]
    thread = f"t-{name}"
    upstream.push(Script(tokens=filler_tokens(600), token_delay=0.05), match=name)  # 30 s if left alone
    db_path = rights.data_dir / "parlor.db"
    with ThreadPoolExecutor(1) as pool:
        reply = pool.submit(chat, rights.url, key, thread, f"a long story, {name}", timeout=60)
        deadline = time.monotonic() + 30
        while not streamed_text(db_path, thread) and not reply.done():  # the reply is under way, partly stored
            assert time.monotonic() < deadline, "the reply never started"
            time.sleep(0.05)
        gone = httpx.request("DELETE", f"{rights.url}/api/account", json={"confirm": name}, headers=auth(key),
                             timeout=60)
        assert gone.status_code == 200, gone.text
        result = reply.result(timeout=30)
    assert result.types[-1] == "abort" and "finish" not in result.types  # the run ended there
    assert len(result.text.split()) < 600
    time.sleep(1.5)  # longer than any write of an ended turn takes (usage, run record, partial answer)
    assert not sqlite_hits(db_path, {user_id, thread})


def streamed_text(db_path: Path, thread: str) -> bool:
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT count(*) FROM messages WHERE thread_id = ? AND role = 'user'",
                          (thread,)).fetchone() != (0,)


def test_users_delete_from_the_shell(rights: ParlorServer) -> None:
    name = f"shell-{uuid.uuid4().hex[:6]}"
    key = rights.create_user(name)
    chat(rights.url, key, f"t-{name}", "hello")
    done = subprocess.run([sys.executable, "-m", "parlor", "users", "delete", name, "--yes"], env=rights.env,
                          capture_output=True, text=True, timeout=120, cwd=rights.data_dir)
    assert done.returncode == 0, done.stderr
    assert "1 users" in done.stdout and "threads" in done.stdout
    assert httpx.get(f"{rights.url}/api/me", headers=auth(key)).status_code == 401
    missing = subprocess.run([sys.executable, "-m", "parlor", "users", "delete", name, "--yes"], env=rights.env,
                             capture_output=True, text=True, timeout=120, cwd=rights.data_dir)
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_retention_purges_idle_threads_and_keeps_recent_ones(rights: ParlorServer) -> None:
    key = rights.create_user(f"idle-{uuid.uuid4().hex[:6]}")
    old, recent = f"old-{uuid.uuid4().hex[:8]}", f"new-{uuid.uuid4().hex[:8]}"
    for thread in (old, recent):
        assert chat(rights.url, key, thread, f"hello {thread}").done
    with sqlite3.connect(rights.data_dir / "parlor.db") as db:
        db.execute("UPDATE threads SET updated_at = datetime('now', '-31 days') WHERE id = ?", (old,))
    deadline = time.monotonic() + 60
    while httpx.get(f"{rights.url}/api/threads/{old}", headers=auth(key)).status_code != 404:
        assert time.monotonic() < deadline, "the idle thread was never purged"
        time.sleep(0.5)
    assert httpx.get(f"{rights.url}/api/threads/{recent}", headers=auth(key)).status_code == 200
    with sqlite3.connect(rights.data_dir / "parlor.db") as db:
        assert db.execute("SELECT count(*) FROM messages WHERE thread_id = ?", (old,)).fetchone() == (0,)


# ---- PostgreSQL: the same deletion, checked in every table of the schema ----

async def seed(store: AccountStore, sessions: Any, name: str) -> tuple[str, list[str]]:
    user = (await store.create_user(name, "free")).principal
    thread = f"thread-{name}"
    rows: list[Any] = [Thread(id=thread, user_id=user.id, title=name),
                       Message(thread_id=thread, role="user", text=f"hi from {name}", parts=[]),
                       Memory(user_id=user.id, text=f"{name} likes tea", tokens=3),
                       Usage(request_id=f"r-{name}", user_id=user.id, thread_id=thread, status="complete"),
                       Document(user_id=user.id, filename="a.txt", content_type="text/plain", sha256="0" * 64,
                                size_bytes=1, storage_key=f"{user.id}/x"),
                       Identity(user_id=user.id, issuer="https://issuer.test", subject=f"sub-{name}")]
    async with sessions.begin() as session:
        session.add_all(rows[:1])
        await session.flush()
        session.add_all(rows[1:])
    await store.create_key(user.id, "spare")
    return user.id, [thread]


async def rows_naming(sessions: Any, needles: set[str]) -> dict[str, int]:
    """For every table of the schema: rows with any text column equal to one of the needles."""
    found: dict[str, int] = {}
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if isinstance(c.type, String | Text)]
            if columns:
                count = (await session.execute(select(func.count()).select_from(table).where(
                    or_(*(c.in_(needles) for c in columns))))).scalar_one()
                if count:
                    found[table.name] = count
    return found


async def test_delete_on_postgresql_leaves_no_row_in_any_table(pg_url: str) -> None:
    await migrate(pg_url)
    engine = create_engine(pg_url)
    sessions = session_factory(engine)
    store = AccountStore(sessions)
    forgotten: list[tuple[str, str]] = []

    async def forget(user_id: str, document_id: str) -> bool:
        forgotten.append((user_id, document_id))
        async with sessions.begin() as session:
            await session.delete(await session.get(Document, document_id))
        return True

    data = AccountData(sessions, forget)
    try:
        alice, _ = await seed(store, sessions, "alice")
        bob, _ = await seed(store, sessions, "bob")
        exported = await data.export(alice)
        assert exported["threads"][0]["messages"][0]["text"] == "hi from alice"
        assert exported["identities"][0]["subject"] == "sub-alice" and len(exported["api_keys"]) == 2
        json.dumps(exported)  # JSON-ready as it is
        owned = ids_in(exported) | {alice}
        deleted = await data.delete(alice)
        assert deleted["users"] == 1 and deleted["messages"] == 1
        assert [u for u, _ in forgotten] == [alice]
        assert await rows_naming(sessions, owned) == {}
        assert (await rows_naming(sessions, {bob}))["users"] == 1

        async with sessions.begin() as session:  # retention on PostgreSQL too
            thread = await session.get(Thread, "thread-bob")
            assert thread is not None
            thread.updated_at = utcnow() - timedelta(days=40)
            session.add(Thread(id="fresh-bob", user_id=bob, title="fresh"))
        assert await data.purge_threads(utcnow() - timedelta(days=30)) == 1
        assert await rows_naming(sessions, {"thread-bob"}) == {"usage": 1}  # accounting keeps its thread id
        assert (await rows_naming(sessions, {"fresh-bob"}))["threads"] == 1
    finally:
        await engine.dispose()
