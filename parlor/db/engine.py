"""Engine and session factory for either database, plus migrations (Alembic)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from parlor.db import urls
from parlor.db.casefold import casefold_lower

MIGRATIONS = Path(__file__).parent / "migrations"
IDLE_PING_SECONDS = 10.0  # a pooled connection idle longer than this is also pinged before use
RECYCLE_SECONDS = 1800  # and none is used for longer than this
POOLED = "parlor_pooled"  # an execution option: this engine's connections go through a transaction pooler


def create_engine(url: str, pool_size: int = 10, max_overflow: int | None = None,
                  pool_timeout: float = 30.0) -> AsyncEngine:
    """`pool_size` connections kept open, `max_overflow` (default: as many) more at a peak, a checkout
    waiting up to `pool_timeout` seconds for one (PostgreSQL only). The URL's TLS and pooler parameters:
    parlor.db.urls."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", casefold_lower)  # thread search in any case, beyond ASCII
        return engine
    overflow = pool_size if max_overflow is None else max_overflow
    connection = urls.parse(url)
    engine = create_async_engine(connection.url, pool_size=pool_size, max_overflow=overflow,
                                 pool_recycle=RECYCLE_SECONDS, pool_timeout=pool_timeout,
                                 connect_args=connection.sqlalchemy_args(),
                                 execution_options={POOLED: connection.pooled})
    event.listen(engine.sync_engine, "checkin", _idle_since)
    event.listen(engine.sync_engine, "checkout", _check_before_use)
    return engine


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine for one-statement reads: no BEGIN and ROLLBACK round trips. Not behind a transaction
    pooler: there a statement's prepare and its execution (two round trips) would each get a server
    connection of their own, and the second fail ("prepared statement ... does not exist")."""
    if engine.get_execution_options().get(POOLED):
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _idle_since(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["idle_since"] = time.monotonic()


def _check_before_use(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Every checkout: a connection the server closed while it sat in the pool (a restart, a failover,
    `pg_terminate_backend`, a proxy's idle cut) is already known to asyncpg, which read the close on the
    event loop, so it is replaced for free. One idle for long is also pinged: a path dropped without a
    close shows nothing locally. Not a ping per checkout: that is BEGIN, `;`, ROLLBACK — three round
    trips per request (bench/db_checkout.py). A dead one raises DisconnectionError: the pool reconnects
    and checks out again."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")
    if time.monotonic() - record.info.get("idle_since", 0.0) <= IDLE_PING_SECONDS:
        return
    try:
        dbapi_connection.ping()  # SQLAlchemy's asyncpg adapter: `;` in a transaction of its own
    except Exception as exc:  # whatever the driver raises for a closed connection
        raise DisconnectionError(str(exc)) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; NORMAL sync is safe with WAL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    return config


def shown_url(url: str) -> str:
    """A database URL fit to print: its password masked."""
    return make_url(url).render_as_string(hide_password=True)


async def pending_migrations(url: str) -> list[str]:
    """The migrations the database lacks, oldest first, each as "id (what it does)"; [] when up to date."""
    engine = create_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            applied = await connection.run_sync(_applied)
    finally:
        await engine.dispose()
    scripts = ScriptDirectory.from_config(alembic_config(url))
    newest_first = scripts.iterate_revisions("heads", applied or "base")  # `applied` itself excluded
    return [f"{script.revision} ({script.doc})" for script in reversed(list(newest_first))]


def _applied(connection: Connection) -> tuple[str, ...]:
    """The revisions Alembic recorded (read directly: its MigrationContext logs two lines per look)."""
    if not inspect(connection).has_table("alembic_version"):
        return ()
    return tuple(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
