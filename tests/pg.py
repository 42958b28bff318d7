"""Real PostgreSQL for tests: one throwaway database per test, so no test sees another's data.

The admin DSN (a superuser on the ``postgres`` database) comes from ``PARLOR_TEST_PG``; by default a
trust-auth server on 127.0.0.1:5432. The admin work (create and drop) uses asyncpg directly. Its URL
parameters (TLS, ``pooler=pgbouncer``: parlor/db/urls.py) carry over to every test's database, so the
tests that use these run through a PgBouncer or over TLS unchanged (tests/helpers/pgbouncer_suite.py).
With a pooler in front, ``PARLOR_TEST_PG_DIRECT`` names the same server without it: what `parlor migrate`
is pointed at, as a deployment's migrate Job is (docs/deploy.md).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from parlor.db import urls

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_dsn() -> str:
    return os.environ.get("PARLOR_TEST_PG") or DEFAULT_ADMIN_DSN


async def _admin(connect_seconds: float = 60) -> asyncpg.Connection:
    return await connect(admin_dsn(), connect_seconds)


async def connect(url: str, connect_seconds: float = 60) -> asyncpg.Connection:
    """A plain asyncpg connection to `url` (a SQLAlchemy or libpq URL), its TLS and pooler parameters
    read as Parlor reads them: a test's own look at a database, beside the code under test."""
    connection = urls.parse(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    return await asyncpg.connect(connection.asyncpg_dsn(), timeout=connect_seconds, **connection.asyncpg_args())


def behind_pooler() -> bool:
    """Whether the tests' PostgreSQL is reached through a transaction pooler (PARLOR_TEST_PG says so)."""
    return urls.parse(admin_dsn()).pooled


DIRECT_ONLY = "needs PostgreSQL itself: a transaction pooler is in front (PARLOR_TEST_PG)"


def direct(url: str) -> str:
    """The same database as `url` (a test's, from database_url) on PostgreSQL itself: PARLOR_TEST_PG_DIRECT's
    server when a pooler is in front, else `url` unchanged. `parlor migrate` refuses a transaction pooler."""
    server = os.environ.get("PARLOR_TEST_PG_DIRECT")
    if not server:
        return url
    same = make_url(server).set(drivername="postgresql+asyncpg", database=make_url(url).database)
    return same.render_as_string(hide_password=False)


def database_url(name: str) -> str:
    """The SQLAlchemy (asyncpg) URL of database ``name`` on the admin DSN's server, as the same user."""
    url = make_url(admin_dsn()).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def available() -> bool:
    """Whether the admin DSN answers (to skip PostgreSQL tests cleanly on a machine without one)."""
    try:
        connection = await _admin(connect_seconds=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """Create ``parlor_t_<hex>``, yield its SQLAlchemy URL, drop it (forcing out any connection left)."""
    name = f"parlor_t_{uuid.uuid4().hex[:16]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield database_url(name)
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
