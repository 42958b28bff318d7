"""The schema's version, and bringing it up to date while the fleet serves: one `parlor migrate` at a time
(others wait on an advisory lock, then find nothing to do), each migration retried when it timed out
waiting for a lock instead of queueing every query on its tables behind it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from parlor.db.engine import alembic_config, create_engine, pending_migrations

LOCK_KEY = 0x7061726C6F72  # "parlor": the advisory lock every `parlor migrate` takes
LOCK_TIMEOUT_SECONDS = 3.0  # longest a migration's statement waits for a lock (and holds queries behind it)
ATTEMPTS = 10  # tries per run; between them the long transaction in the way may end
LOCK_NOT_AVAILABLE = "55P03"
LOCK_POLL_SECONDS = 0.5
WAIT_POLL_SECONDS = 2.0  # `parlor migrate --wait` looks at the schema this often


def _quiet(_line: str) -> None:
    pass


class LockBusy(Exception):
    """A migration kept timing out waiting for a lock: said in one line, with what to do."""


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head() or ""


def known(revision: str) -> bool:
    """Whether this release has `revision` (not: a newer release migrated the database)."""
    return revision in {script.revision for script in ScriptDirectory.from_config(alembic_config("")).walk_revisions()}


async def current(url: str) -> str | None:
    """The revision the database is at, None when it has no schema yet."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: c.dialect.has_table(c, "alembic_version"))
            if not tables:
                return None
            return (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    finally:
        await engine.dispose()


async def wait_for_head(url: str, say: Callable[[str], None] = _quiet, poll: float = WAIT_POLL_SECONDS) -> str:
    """Waits, taking no lock and changing nothing, until the database's schema is this release's; returns
    it. What a pod's init container runs: the migrate Job migrates (on PostgreSQL itself, never through a
    transaction pooler, where a session's advisory lock would stay behind), the pods only wait for it."""
    wanted = head()
    for tries in itertools.count():
        try:
            if (at := await current(url)) == wanted:
                return wanted
        except (OSError, DBAPIError) as exc:  # not up yet: a database starting beside the pods
            at = f"unreachable ({type(exc).__name__})"
        if tries == 0:
            say(f"waiting for the schema: the database is at {at or 'no schema'}, this release needs {wanted}"
                " (run `parlor migrate`, e.g. the migrate Job)")
        await asyncio.sleep(poll)
    raise AssertionError("unreachable")


async def migrate(url: str, lock_timeout: float = LOCK_TIMEOUT_SECONDS,
                  say: Callable[[str], None] = _quiet) -> list[str]:
    """Bring the database to the newest schema; returns the migrations applied, as pending_migrations
    lists them (none when another run applied them while this one waited for it)."""
    async with _one_at_a_time(url, say):
        pending = await pending_migrations(url)
        if pending:
            await asyncio.to_thread(_upgrade, url, lock_timeout, say)
        return pending


@asynccontextmanager
async def _one_at_a_time(url: str, say: Callable[[str], None]) -> AsyncIterator[None]:
    """A session advisory lock on a connection of its own, held for the whole run (SQLite: one process).
    Tried, not waited for: a statement waiting holds a snapshot, and CREATE INDEX CONCURRENTLY in the run
    holding the lock waits for every snapshot to go: a deadlock PostgreSQL cannot see."""
    if url.startswith("sqlite"):
        yield
        return
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            await _take_lock(connection, say)
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                await connection.commit()
    finally:
        await engine.dispose()


async def _take_lock(connection: AsyncConnection, say: Callable[[str], None]) -> None:
    for tries in itertools.count():
        taken = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})).scalar()
        await connection.commit()  # no snapshot kept between tries
        if taken:
            return
        if tries == 0:
            say("another `parlor migrate` is running: waiting for it")
        await asyncio.sleep(LOCK_POLL_SECONDS)


def _upgrade(url: str, lock_timeout: float, say: Callable[[str], None]) -> None:
    """Alembic to head; a migration that timed out on a lock rolled back (or, past its DDL, resumes:
    parlor.db.online), so the next attempt starts again from the last one committed."""
    config = alembic_config(url)
    config.attributes["lock_timeout"] = lock_timeout
    for attempt in range(1, ATTEMPTS + 1):
        try:
            command.upgrade(config, "head")
            return
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
        if attempt == ATTEMPTS:
            break
        wait = min(2.0 ** attempt, 30.0)
        say(f"a migration waited over {lock_timeout:g} s for a lock (attempt {attempt} of {ATTEMPTS}): "
            f"again in {wait:g} s")
        time.sleep(wait)
    raise LockBusy(f"a migration waited over {lock_timeout:g} s for a lock ({ATTEMPTS} tries): a long "
                   "transaction holds its tables (see pg_stat_activity); run `parlor migrate` again once it ends")
