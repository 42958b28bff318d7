"""PostgreSQL's pool replaces a connection that died in it before use (the server closed it, or it sat idle and
fails a ping) — also every connection of a running server cut at once — and a request
that finds no free connection in time is told the server is busy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from parlor.db import create_engine, migrate, with_retries
from parlor.db import engine as engine_module
from parlor.db.retries import WRITE_ATTEMPTS
from parlor.rag.pg_store import asyncpg_dsn
from tests import pg
from tests.client import auth
from tests.conftest import upstream_provider
from tests.server import ParlorServer
from tests.upstream import Upstream


@pytest.mark.skipif(pg.behind_pooler(), reason=pg.DIRECT_ONLY)  # a pooler hides the backend it would kill
async def test_a_connection_killed_while_idle_is_replaced_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    async with pg.fresh_database() as url:
        engine, admin = create_engine(url, pool_size=1, max_overflow=0), create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                killed = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with admin.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed})
            monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", -1.0)  # as if it had sat idle for long
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != killed
        finally:
            await engine.dispose()
            await admin.dispose()


async def test_a_request_that_finds_no_free_connection_gets_503_server_busy(tmp_path: Path, upstream: Upstream) -> None:
    """Overload is not a bug: a request that waits past the pool's timeout is told to retry, and the one
    holding the connection still finishes."""
    async with pg.fresh_database() as url:
        await migrate(url)
        pools = {"PARLOR_DB_POOL_SIZE": "1", "PARLOR_DB_MAX_OVERFLOW": "0", "PARLOR_DB_POOL_TIMEOUT": "0.5"}
        server = ParlorServer(tmp_path, [upstream_provider(upstream)], database_url=url, **pools).start()
        admin = await asyncpg.connect(asyncpg_dsn(url))
        try:
            key = server.create_user("busy")
            async with httpx.AsyncClient(base_url=server.url, headers=auth(key), timeout=30) as client:
                locking = admin.transaction()
                await locking.start()
                await admin.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # the first request's query waits
                holder = asyncio.create_task(client.get("/api/me"))  # ...holding the one pooled connection
                await asyncio.sleep(0.3)
                refused = await client.get("/api/me")
                await locking.rollback()
                held = await holder
            assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
            assert refused.json()["error"]["code"] == "server_busy"
            assert held.status_code == 200 and held.json()["name"] == "busy"
        finally:
            await admin.close()
            server.stop()


async def test_a_write_waits_out_a_busy_pool_however_long_each_try_waited() -> None:
    """A pool timeout (overload) is retried like a lost connection; a try that used up the whole time
    budget waiting for a connection still gets the retries."""
    tries: list[float] = []

    async def write() -> None:
        tries.append(asyncio.get_running_loop().time())
        if len(tries) < WRITE_ATTEMPTS:
            raise PoolTimeout("QueuePool limit of size 1 overflow 0 reached")

    await with_retries(write, seconds=0.0)
    assert len(tries) == WRITE_ATTEMPTS

    async def never() -> None:
        raise PoolTimeout("still busy")

    with pytest.raises(PoolTimeout):
        await with_retries(never, seconds=0.0)


async def _cut_every_connection(admin: asyncpg.Connection, database: str) -> int:
    """Terminates every backend of `database` but the admin's own and waits until they are gone; returns
    how many there were."""
    query = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
    pids = [row["pid"] for row in await admin.fetch(query, database)]
    for pid in pids:
        await admin.execute("SELECT pg_terminate_backend($1, 5000)", pid)  # returns once it has exited
    assert not await admin.fetch(query, database)
    return len(pids)


async def test_after_every_connection_is_cut_the_next_requests_all_succeed(tmp_path: Path, upstream: Upstream) -> None:
    """A database blip (restart, failover, `pg_terminate_backend`) under a busy server: the pool replaces
    the dead connections before use, so the very next requests — one, then many at once, reads and
    writes — are 200, and what they wrote is in the database."""
    async with pg.fresh_database() as url:
        await migrate(url)
        server = ParlorServer(tmp_path, [upstream_provider(upstream)], database_url=url).start()
        admin = await asyncpg.connect(asyncpg_dsn(url))
        database = await admin.fetchval("SELECT current_database()")
        headers = auth(server.admin_token)
        try:
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30) as client:
                async def create(name: str) -> int:
                    return (await client.post("/api/users", json={"name": name})).status_code

                async def list_users() -> int:
                    return (await client.get("/api/users")).status_code

                warm = await asyncio.gather(*(create(f"before-{i}") for i in range(8)), list_users())
                assert warm == [201] * 8 + [200]  # the pool holds several connections now
                assert await _cut_every_connection(admin, database) >= 2
                first = await list_users()
                burst = await asyncio.gather(*(create(f"after-{i}") for i in range(8)),
                                             *(list_users() for _ in range(4)))
            assert [first, *burst] == [200] + [201] * 8 + [200] * 4
            names = {row["name"] for row in await admin.fetch("SELECT name FROM users")}
            assert {f"after-{i}" for i in range(8)} <= names
        finally:
            await admin.close()
            server.stop()


def test_a_database_that_is_down_is_a_503_naming_it_not_a_500(tmp_path: Path, upstream: Upstream) -> None:
    """The database stopped (a restart, a failover under way): requests that need it are told so — 503
    `database_unavailable` with a Retry-After and the request id — and succeed once it is back."""
    from tests.pgcluster import PgCluster
    from tests.test_lifecycle import parlor

    with PgCluster() as database:
        assert parlor("migrate", env={"PARLOR_DATABASE_URL": database.url}).returncode == 0
        server = ParlorServer(tmp_path, [upstream_provider(upstream)], database_url=database.url).start()
        try:
            headers = auth(server.admin_token)
            assert httpx.get(f"{server.url}/api/users", headers=headers).status_code == 200
            database.stop()
            for _ in range(3):  # the pooled connection the stop closed, then new connections refused
                down = httpx.get(f"{server.url}/api/users", headers=headers, timeout=30)
                assert down.status_code == 503, down.text
                assert down.json()["error"]["code"] == "database_unavailable"
                assert down.headers["Retry-After"] and down.headers["X-Request-ID"]
                assert down.json()["error"]["request_id"] == down.headers["X-Request-ID"]
            database.start()
            assert httpx.get(f"{server.url}/api/users", headers=headers).status_code == 200
        finally:
            server.stop()
